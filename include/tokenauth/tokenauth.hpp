// tokenauth: long-lived access tokens and session tokens for REST APIs.
// Umbrella header: includes every public header except identity_json.hpp (which needs
// nlohmann/json); include that one where you need JSON.
#pragma once

#include "error.hpp"
#include "identity.hpp"
#include "limits.hpp"
#include "network.hpp"
#include "privilege.hpp"
#include "secret.hpp"
#include "session.hpp"
#include "store.hpp"
#include "time.hpp"
#include "token.hpp"
#include "validator.hpp"
