// tokenauth: the token_store interface and the memory_token_store, for code that includes
// both at once (each has its own header: token_store.hpp, memory_token_store.hpp).
#pragma once

#include "memory_token_store.hpp"
#include "token_store.hpp"
