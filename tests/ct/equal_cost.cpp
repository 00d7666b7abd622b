// Equal cost, counted rather than timed: validates one kind of rejected token many times, so
// that `valgrind --tool=callgrind` can count the instructions. equal_cost.cmake runs it for
// each kind and compares: an unknown id must cost what a known id with a wrong secret costs
// (both hash the secret; the unknown one against a dummy), in memory_token_store and in the
// default token_store::verify a custom store inherits. Instruction counts do not depend on
// the machine's load, so this check is repeatable where a timing would not be. In the memory
// store an absent id also walks a longer probe run than a present one (a property of the
// hash table, not of the secret), so its tolerance is wider; the hash that an early return
// would skip is about nine tenths of the cost either way.
//   equal_cost <memory|default> <unknown|bad_secret|skip_hash>
// skip_hash is the defect this guards against (an early return for an unknown id): the
// script checks that it is told apart.
#include <tokenauth/store.hpp>
#include <tokenauth/validator.hpp>

#include <cstdio>
#include <cstring>
#include <vector>
#include <string>

namespace {

/// A custom store that only implements find(): verify() is token_store's default. Its find()
/// itself costs the same for every id (it scans all records and always copies one), so what
/// is counted is the library's part.
class map_store final : public tokenauth::token_store {
public:
    void add(const tokenauth::token_record& r) { records_.push_back(r); }
    bool find(const tokenauth::token_id& id, tokenauth::token_record& out) const noexcept override {
        std::size_t at = records_.size();
        for (std::size_t i = 0; i < records_.size(); ++i) {
            const std::size_t hit = records_[i].id == id ? i : records_.size();
            at = hit < at ? hit : at;
        }
        out = records_[at < records_.size() ? at : 0];
        return at < records_.size();
    }

private:
    std::vector<tokenauth::token_record> records_;
};

/// The defect: returns at once for an unknown id, without hashing.
class early_return_store final : public tokenauth::token_store {
public:
    explicit early_return_store(const map_store& s) : inner_(s) {}
    bool find(const tokenauth::token_id& id, tokenauth::token_record& out) const noexcept override {
        return inner_.find(id, out);
    }
    tokenauth::lookup_result verify(const tokenauth::access_token& t, tokenauth::token_record& out) const noexcept override {
        if (!find(t.id, out)) return tokenauth::lookup_result::unknown;
        return tokenauth::verify_secret(t.id.bytes, t.secret, out.hash) ? tokenauth::lookup_result::found
                                                                         : tokenauth::lookup_result::bad_secret;
    }

private:
    const map_store& inner_;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: equal_cost <memory|default> <unknown|bad_secret|skip_hash>\n");
        return 2;
    }
    const std::string store_kind = argv[1];
    const std::string kind = argv[2];
    tokenauth::ensure_sodium_init();
    tokenauth::memory_token_store memory;
    map_store custom;
    tokenauth::access_token known;
    for (int i = 0; i < 1000; ++i) {
        const auto t = tokenauth::generate_access_token();
        memory.upsert(tokenauth::make_token_record(t, 1));
        if (i < 16) custom.add(tokenauth::make_token_record(t, 1));  // few: the hash dominates
        if (i == 0) known = t;
    }
    early_return_store defect(custom);
    const tokenauth::token_store& store = store_kind == "memory" ? static_cast<const tokenauth::token_store&>(memory)
                                          : kind == "skip_hash" ? static_cast<const tokenauth::token_store&>(defect)
                                                                : static_cast<const tokenauth::token_store&>(custom);
    tokenauth::manual_clock clock(1);
    const tokenauth::validator v(store, clock);

    tokenauth::access_token probe = kind == "bad_secret" ? known : tokenauth::generate_access_token();
    if (kind == "bad_secret") probe.secret[0] ^= 1;
    const std::string header = "Bearer " + tokenauth::encode_access_token(probe);
    const tokenauth::errc expected = kind == "bad_secret" ? tokenauth::errc::bad_secret : tokenauth::errc::unknown_token;
    int wrong = 0;
    for (int i = 0; i < 20000; ++i) {
        const auto r = v.validate(header);
        wrong += r ? 1 : (r.code() == expected ? 0 : 1);
    }
    if (wrong != 0) {
        std::fprintf(stderr, "equal_cost: %d validations did not fail as %s\n", wrong, kind.c_str());
        return 1;
    }
    return 0;
}
