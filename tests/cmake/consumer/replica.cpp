// Compiles and links the replica through the installed tokenauth::postgres target alone.
#include <tokenauth/postgres/replica.hpp>
#include <tokenauth/tokenauth.hpp>

#include <cstdio>

int main(int argc, char** argv) {
    if (argc < 2) {  // run without a database: only proves the build
        std::puts("replica consumer: built");
        return 0;
    }
    tokenauth::postgres::replica store({argv[1]});
    tokenauth::system_clock clock;
    const tokenauth::validator v(store, clock);
    return v.validate(argc > 2 ? argv[2] : "").ok() ? 0 : 1;
}
