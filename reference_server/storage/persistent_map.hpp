// Maps that versions of the directory share (store.hpp): copying one copies a pointer, and a
// change copies only the nodes on the path to what it changes. A 32-way trie over the key's
// 5-bit digits, most significant first (so iteration is in key order), whose nodes hold an
// entry at the first level where its key is alone (so a path is as deep as the keys need:
// about log32(n) nodes). A node held by one map only is changed in place, which makes
// building a map from nothing cost no copies at all. Not for concurrent writes to one map
// object; any number of threads may read versions that nobody writes.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tokenauth::server {

/// What copy-on-write has copied in this process: trie nodes, and the entries (entities:
/// users, groups, membership sets) in them. A write to a large directory that copied in
/// proportion to its size would show here (exported as a metric).
struct persistent_copies {
    static std::atomic<std::uint64_t>& nodes() noexcept {
        static std::atomic<std::uint64_t> n{0};
        return n;
    }
    static std::atomic<std::uint64_t>& entries() noexcept {
        static std::atomic<std::uint64_t> n{0};
        return n;
    }
};

template <class V>
class persistent_map {
public:
    using key_type = std::uint64_t;
    using mapped_type = V;
    using value_type = std::pair<std::uint64_t, V>;

private:
    struct node {
        std::uint32_t leaf_bits = 0;   ///< digits holding an entry
        std::uint32_t child_bits = 0;  ///< digits holding a subtree (disjoint from leaf_bits)
        std::vector<value_type> leaves;               ///< in digit order
        std::vector<std::shared_ptr<node>> children;  ///< in digit order
    };
    static constexpr int max_levels = 13;  // 13 digits of 5 bits cover 64 bits

    static unsigned digit(std::uint64_t key, int level) noexcept {
        return static_cast<unsigned>((key >> (5 * level)) & 31u);
    }
    static std::size_t rank(std::uint32_t bits, std::uint32_t bit) noexcept {
        return static_cast<std::size_t>(__builtin_popcount(bits & (bit - 1)));
    }
    bool fits(std::uint64_t key) const noexcept { return levels_ >= max_levels || (key >> (5 * levels_)) == 0; }

    /// Makes p a node this map alone holds (a copy when another version shares it).
    static node* own(std::shared_ptr<node>& p) {
        if (!p) {
            p = std::make_shared<node>();
        } else if (p.use_count() != 1) {
            p = std::make_shared<node>(*p);
            persistent_copies::nodes().fetch_add(1, std::memory_order_relaxed);
            persistent_copies::entries().fetch_add(p->leaves.size(), std::memory_order_relaxed);
        } else {
            // The last other holder has let go: what it did before that happens before this.
            std::atomic_thread_fence(std::memory_order_acquire);
        }
        return p.get();
    }

public:
    persistent_map() = default;

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }

    /// The value at key, or nullptr.
    const V* find(std::uint64_t key) const noexcept {
        if (!fits(key)) return nullptr;
        const node* n = root_.get();
        for (int level = levels_ - 1; n != nullptr && level >= 0; --level) {
            const std::uint32_t bit = 1u << digit(key, level);
            if (n->leaf_bits & bit) {
                const value_type& e = n->leaves[rank(n->leaf_bits, bit)];
                return e.first == key ? &e.second : nullptr;
            }
            if (!(n->child_bits & bit)) return nullptr;
            n = n->children[rank(n->child_bits, bit)].get();
        }
        return nullptr;
    }
    bool contains(std::uint64_t key) const noexcept { return find(key) != nullptr; }

    /// The value at key for writing, inserted (value-initialised) when absent. Copies the
    /// nodes on its path that another version shares.
    V& operator[](std::uint64_t key) {
        while (!fits(key)) {
            if (root_) {
                auto up = std::make_shared<node>();
                up->child_bits = 1;  // every key so far has a leading digit of 0
                up->children.push_back(std::move(root_));
                root_ = std::move(up);
            }
            ++levels_;
        }
        std::shared_ptr<node>* p = &root_;
        for (int level = levels_ - 1;; --level) {
            node* n = own(*p);
            const std::uint32_t bit = 1u << digit(key, level);
            if (n->child_bits & bit) {
                p = &n->children[rank(n->child_bits, bit)];
                continue;
            }
            if (n->leaf_bits & bit) {
                const std::size_t i = rank(n->leaf_bits, bit);
                if (n->leaves[i].first == key) return n->leaves[i].second;
                // Another key has this digit: both go one level down (level > 0 here, as
                // two keys that agree in every digit are equal).
                auto child = std::make_shared<node>();
                child->leaf_bits = 1u << digit(n->leaves[i].first, level - 1);
                child->leaves.push_back(std::move(n->leaves[i]));
                n->leaves.erase(n->leaves.begin() + static_cast<std::ptrdiff_t>(i));
                n->leaf_bits &= ~bit;
                const std::size_t c = rank(n->child_bits, bit);
                n->children.insert(n->children.begin() + static_cast<std::ptrdiff_t>(c), std::move(child));
                n->child_bits |= bit;
                p = &n->children[c];
                continue;
            }
            const std::size_t i = rank(n->leaf_bits, bit);
            n->leaves.insert(n->leaves.begin() + static_cast<std::ptrdiff_t>(i), value_type{key, V{}});
            n->leaf_bits |= bit;
            ++size_;
            return n->leaves[i].second;
        }
    }
    void set(std::uint64_t key, V value) { (*this)[key] = std::move(value); }

    /// Removes key; false when it was absent (and then nothing is copied).
    bool erase(std::uint64_t key) {
        if (!contains(key)) return false;
        erase_in(root_, key, levels_ - 1);
        --size_;
        return true;
    }

    /// Calls f(key, value) in key order.
    template <class F>
    void for_each(F&& f) const {
        for (const value_type& e : *this) f(e.first, e.second);
    }

    class const_iterator {
    public:
        using value_type = persistent_map::value_type;
        using reference = const value_type&;
        using pointer = const value_type*;
        using difference_type = std::ptrdiff_t;
        using iterator_category = std::forward_iterator_tag;

        const_iterator() = default;
        reference operator*() const noexcept { return *cur_; }
        pointer operator->() const noexcept { return cur_; }
        const_iterator& operator++() {
            next();
            return *this;
        }
        bool operator==(const const_iterator& o) const noexcept { return cur_ == o.cur_; }
        bool operator!=(const const_iterator& o) const noexcept { return cur_ != o.cur_; }

    private:
        friend class persistent_map;
        struct frame {
            const node* n;
            unsigned d;  // the next digit to visit
        };
        explicit const_iterator(const node* root) {
            if (root != nullptr) stack_.push_back({root, 0});
            next();
        }
        void next() {
            cur_ = nullptr;
            while (!stack_.empty()) {
                frame& f = stack_.back();
                const std::uint64_t rest = (std::uint64_t{f.n->leaf_bits} | f.n->child_bits) >> f.d;
                if (rest == 0) {
                    stack_.pop_back();
                    continue;
                }
                const unsigned d = f.d + static_cast<unsigned>(__builtin_ctzll(rest));
                f.d = d + 1;
                const std::uint32_t bit = 1u << d;
                if (f.n->leaf_bits & bit) {
                    cur_ = &f.n->leaves[rank(f.n->leaf_bits, bit)];
                    return;
                }
                const node* child = f.n->children[rank(f.n->child_bits, bit)].get();
                stack_.push_back({child, 0});
            }
        }
        std::vector<frame> stack_;
        const value_type* cur_ = nullptr;
    };
    const_iterator begin() const { return const_iterator(root_.get()); }
    const_iterator end() const noexcept { return const_iterator(); }

private:
    void erase_in(std::shared_ptr<node>& p, std::uint64_t key, int level) {
        node* n = own(p);
        const std::uint32_t bit = 1u << digit(key, level);
        if (n->leaf_bits & bit) {
            n->leaves.erase(n->leaves.begin() + static_cast<std::ptrdiff_t>(rank(n->leaf_bits, bit)));
            n->leaf_bits &= ~bit;
            return;
        }
        const std::size_t c = rank(n->child_bits, bit);
        std::shared_ptr<node>& child = n->children[c];
        erase_in(child, key, level - 1);
        // A subtree left with one entry and no subtrees gives its entry back to this level.
        if (child->child_bits != 0 || child->leaves.size() > 1) return;
        std::optional<value_type> last;
        if (!child->leaves.empty()) last.emplace(std::move(child->leaves.front()));  // child is this map's own
        n->children.erase(n->children.begin() + static_cast<std::ptrdiff_t>(c));
        n->child_bits &= ~bit;
        if (last) {
            n->leaves.insert(n->leaves.begin() + static_cast<std::ptrdiff_t>(rank(n->leaf_bits, bit)), std::move(*last));
            n->leaf_bits |= bit;
        }
    }

    std::shared_ptr<node> root_;
    int levels_ = 1;
    std::size_t size_ = 0;
};

/// A set of 64-bit ids with the same sharing (members of a group, groups of a member).
class persistent_set {
public:
    struct present {};
    std::size_t size() const noexcept { return map_.size(); }
    bool empty() const noexcept { return map_.empty(); }
    bool contains(std::uint64_t id) const noexcept { return map_.contains(id); }
    void insert(std::uint64_t id) { map_[id]; }
    bool erase(std::uint64_t id) { return map_.erase(id); }
    /// Calls f(id) in ascending order.
    template <class F>
    void for_each(F&& f) const {
        for (const auto& e : map_) f(e.first);
    }
    std::vector<std::uint64_t> to_vector() const {
        std::vector<std::uint64_t> out;
        out.reserve(size());
        for_each([&](std::uint64_t id) { out.push_back(id); });
        return out;
    }

private:
    persistent_map<present> map_;
};

/// Names to ids with the same sharing: a persistent_map keyed by the name's hash, each slot
/// the few names with that hash.
class persistent_name_index {
public:
    std::size_t size() const noexcept { return size_; }
    std::optional<std::uint64_t> find(const std::string& name) const noexcept {
        if (const bucket* b = map_.find(hash(name)))
            for (const auto& [n, id] : *b)
                if (n == name) return id;
        return std::nullopt;
    }
    /// Sets name's id (replacing any it had).
    void set(const std::string& name, std::uint64_t id) {
        bucket& b = map_[hash(name)];
        for (auto& [n, held] : b)
            if (n == name) {
                held = id;
                return;
            }
        b.emplace_back(name, id);
        ++size_;
    }
    /// Removes name when it names id; false otherwise.
    bool erase(const std::string& name, std::uint64_t id) {
        const std::uint64_t h = hash(name);
        const bucket* found = map_.find(h);
        if (found == nullptr) return false;
        const auto at = std::find(found->begin(), found->end(), std::make_pair(name, id));
        if (at == found->end()) return false;
        const auto i = at - found->begin();
        if (found->size() == 1) {
            map_.erase(h);
        } else {
            bucket& b = map_[h];  // may copy the node, and found's bucket with it
            b.erase(b.begin() + i);
        }
        --size_;
        return true;
    }

private:
    using bucket = std::vector<std::pair<std::string, std::uint64_t>>;
    static std::uint64_t hash(const std::string& s) noexcept { return std::hash<std::string>{}(s); }
    persistent_map<bucket> map_;
    std::size_t size_ = 0;
};

}  // namespace tokenauth::server
