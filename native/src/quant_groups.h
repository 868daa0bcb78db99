// Scale groups of a quantized matrix x[rows, cols] (src/backend/quant-kernels.ts):
//   group(r, c) = (floor(r / rowDiv) mod rowMod) · colGroups + floor(c / colDiv),  colGroups = ceil(cols / colDiv)
// Kernels walk runs of consecutive elements that share one group ("seg" kernels), or, for colDiv = 1
// (per column / per (pixel, column) groups), each row against consecutive per-group parameters ("cols"
// kernels). Row chunks for the thread pool depend on the shape only.
#pragma once
#include <algorithm>
#include <cstdint>

namespace fqt {

struct QuantGroups {
  int64_t rows, cols, row_div, row_mod, col_div, col_groups;

  QuantGroups(int64_t r, int64_t c, int64_t rd, int64_t rm, int64_t cd)
      : rows(r), cols(c), row_div(rd), row_mod(rm), col_div(cd), col_groups(cd > 0 ? (c + cd - 1) / cd : 0) {}

  // Degenerate shapes and non-positive divisors do nothing (ops/ validates them; this only avoids a crash).
  bool empty() const { return rows <= 0 || cols <= 0 || row_div <= 0 || row_mod <= 0 || col_div <= 0; }
  // Group index of row r's first column.
  int64_t base(int64_t r) const { return (r / row_div % row_mod) * col_groups; }
  int64_t row_groups() const { return std::min(row_mod, (rows + row_div - 1) / row_div); }
  int64_t count() const { return row_groups() * col_groups; }
  // Rows per pool task so that a task holds about `grain` elements.
  int64_t rows_per_task(int64_t grain) const { return std::max<int64_t>(1, grain / std::max<int64_t>(1, cols)); }

  // Calls seg(offset, length, g) for the maximal runs of row-major elements of rows [r0, r1) that share
  // group g, in element order. When a row is a single group (colDiv ≥ cols) a run spans all the rows of
  // a block (all rows when rowMod = 1), so per-sample and per-tensor groups are walked as long vectors.
  template <class F>
  void for_runs(int64_t r0, int64_t r1, F&& seg) const {
    if (col_groups == 1) {
      for (int64_t r = r0; r < r1;) {
        const int64_t end = row_mod == 1 ? r1 : std::min(r1, (r / row_div + 1) * row_div);
        seg(r * cols, (end - r) * cols, base(r));
        r = end;
      }
      return;
    }
    for (int64_t r = r0; r < r1; r++) {
      const int64_t b = base(r);
      for (int64_t cg = 0; cg < col_groups; cg++) {
        const int64_t c0 = cg * col_div;
        seg(r * cols + c0, std::min(cols, c0 + col_div) - c0, b + cg);
      }
    }
  }

  // colDiv = 1: calls run(offset, length, gbase) where element offset + i uses the parameters of group
  // gbase + i. Consecutive rows have consecutive groups when rowDiv = 1 (per (pixel, column) groups: a
  // whole sample is one run); otherwise each row is a run.
  template <class F>
  void for_col_runs(int64_t r0, int64_t r1, F&& run) const {
    for (int64_t r = r0; r < r1;) {
      const int64_t end = row_div == 1 && row_mod > 1 ? std::min(r1, (r / row_mod + 1) * row_mod) : r + 1;
      run(r * cols, (end - r) * cols, base(r));
      r = end;
    }
  }
};

}  // namespace fqt
