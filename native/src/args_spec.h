// Parsed argument signatures (internal to args.cc / args_parse.cc): the grammar is in src/backend/signatures.ts.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace fqt {
namespace argspec {

constexpr int64_t kLimit = int64_t(1) << 53;  // every size expression stays below 2^53 (exact in a double)
constexpr double kIntMax = 2147483647.0;

// Expression nodes in a pool; kind: 'n' number, 'v' integer argument, 'l' #array, 'e' array[a] (a: the index),
// 'p' prod(array), 's' sum(array), '+' '-' '*' '/' binary, 'c' cdiv, 'm' min.
struct Node {
  char kind;
  int64_t value;  // number, or the argument index for 'v' 'l' 'p' 's'
  int a, b;
};

enum class T { Int, Num, Str, Array };
enum class A { F32, F64, I32, U32, I8, U8, Codes };

struct Arg {
  std::string name, text;
  T t;
  double lo = -INFINITY, hi = INFINITY;
  std::vector<std::string> choices;  // empty: any string
  A kind = A::F32;
  int len = -1;  // expression node, -1: any length
  bool empty_ok = false;
};

struct Relation {
  std::string op;
  int a, b;
};

struct Constraint {
  char t;  // 'r' relations (any of them must hold), 'i' @in, 'v' @view
  std::string text;
  std::vector<Relation> any;
  int a = -1, b = -1;  // expressions (@in: lo a, hi b; @view: offset a)
  int arr = -1, strides = -1, shape = -1;  // argument indices
};

struct Spec {
  std::string name;
  std::vector<Arg> args;
  std::vector<Constraint> constraints;
  std::vector<Node> nodes;
};

struct ParseError {
  std::string what;
};

// Parses one signature line; throws ParseError naming the bad token.
Spec parse_signature(const char* name, const char* sig);

}  // namespace argspec
}  // namespace fqt
