// Scale groups of a quantized matrix x[rows, cols] (src/backend/quant-kernels.ts):
//   group(r, c) = (floor(r / rowDiv) mod rowMod) · colGroups + floor(c / colDiv),  colGroups = ceil(cols / colDiv)
// Kernels walk a row as segments of ≤ colDiv columns that share one group ("seg" kernels), or, for
// colDiv = 1 (per column / per (pixel, column) groups), the whole row against consecutive per-group
// parameters ("cols" kernels). Row chunks for the thread pool depend on the shape only.
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

  // Calls seg(c0, c1, g) for the column segments of row r that share group g, in column order.
  template <class F>
  void for_segments(int64_t r, F&& seg) const {
    const int64_t b = base(r);
    for (int64_t cg = 0; cg < col_groups; cg++) seg(cg * col_div, std::min(cols, (cg + 1) * col_div), b + cg);
  }
};

}  // namespace fqt
