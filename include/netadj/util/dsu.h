#pragma once
// Disjoint sets over 0..n-1 (union-find with path halving): the channel spaces of warm start, a slot's ops.
#include <numeric>
#include <vector>

namespace netadj {

struct Dsu {
  std::vector<int> parent;
  explicit Dsu(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int i) {
    while (parent[size_t(i)] != i) i = parent[size_t(i)] = parent[size_t(parent[size_t(i)])];
    return i;
  }
  void unite(int a, int b) { parent[size_t(find(a))] = find(b); }
};

}  // namespace netadj
