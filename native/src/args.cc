// The argument checker of args.h: parses each signature once, checks every call against it. Mirrors
// src/backend/args.ts (same grammar, same rules, same messages).
#include "args.h"

#include <cmath>
#include <cstring>
#include <exception>
#include <map>
#include <string>
#include <vector>

namespace fqt {

namespace {

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

int find_arg(const Spec& s, const std::string& name) {
  for (size_t i = 0; i < s.args.size(); i++)
    if (s.args[i].name == name) return static_cast<int>(i);
  throw ParseError{"unknown argument '" + name + "'"};
}

// Recursive descent over one expression; argument names resolve against the whole signature.
struct ExprParser {
  Spec& s;
  const std::string& src;
  size_t i = 0;
  char peek() const { return i < src.size() ? src[i] : '\0'; }
  void expect(char c) {
    if (peek() != c) throw ParseError{"bad expression '" + src + "'"};
    i++;
  }
  std::string ident() {
    size_t j = i;
    while (j < src.size() && (std::isalnum(static_cast<unsigned char>(src[j])) || src[j] == '_')) j++;
    if (j == i || std::isdigit(static_cast<unsigned char>(src[i]))) throw ParseError{"bad expression '" + src + "'"};
    std::string r = src.substr(i, j - i);
    i = j;
    return r;
  }
  int add(Node n) {
    s.nodes.push_back(n);
    return static_cast<int>(s.nodes.size() - 1);
  }
  int factor() {
    const char c = peek();
    if (c == '(') {
      i++;
      const int e = sum();
      expect(')');
      return e;
    }
    if (c == '#') {
      i++;
      return add({'l', find_arg(s, ident()), -1, -1});
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      int64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) v = v * 10 + (src[i++] - '0');
      return add({'n', v, -1, -1});
    }
    const std::string name = ident();
    if (peek() == '[') {
      i++;
      int64_t index = 0;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) throw ParseError{"bad expression '" + src + "'"};
      while (std::isdigit(static_cast<unsigned char>(peek()))) index = index * 10 + (src[i++] - '0');
      expect(']');
      return add({'e', find_arg(s, name), static_cast<int>(index), -1});
    }
    if (peek() != '(') return add({'v', find_arg(s, name), -1, -1});
    i++;
    if (name == "prod" || name == "sum") {
      const int arr = find_arg(s, ident());
      expect(')');
      return add({name == "prod" ? 'p' : 's', arr, -1, -1});
    }
    if (name != "cdiv" && name != "min") throw ParseError{"unknown function '" + name + "'"};
    const int a = sum();
    expect(',');
    const int b = sum();
    expect(')');
    return add({name == "cdiv" ? 'c' : 'm', 0, a, b});
  }
  int product() {
    int e = factor();
    while (peek() == '*' || peek() == '/') {
      const char op = src[i++];
      const int f = factor();
      e = add({op, 0, e, f});
    }
    return e;
  }
  int sum() {
    int e = product();
    while (peek() == '+' || peek() == '-') {
      const char op = src[i++];
      const int f = product();
      e = add({op, 0, e, f});
    }
    return e;
  }
  int parse() {
    const int e = sum();
    if (i != src.size()) throw ParseError{"bad expression '" + src + "'"};
    return e;
  }
};

int parse_expr(Spec& s, const std::string& src) { return ExprParser{s, src}.parse(); }

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); i++) {
    if (i == s.size() || s[i] == sep) {
      if (i > start) out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

bool parse_range(const std::string& r, double* lo, double* hi) {
  const size_t dots = r.find("..");
  if (dots == std::string::npos) return false;
  const std::string l = r.substr(0, dots), h = r.substr(dots + 2);
  char* end = nullptr;
  *lo = std::strtod(l.c_str(), &end);
  if (l.empty() || *end != '\0') return false;
  *hi = std::strtod(h.c_str(), &end);
  return !h.empty() && *end == '\0';
}

// Argument token "name:type"; array lengths are parsed after all names are known (they may refer forward).
Arg parse_arg_type(const std::string& tok, std::string* len_src) {
  const size_t colon = tok.find(':');
  if (colon == std::string::npos) throw ParseError{"bad argument '" + tok + "'"};
  Arg a;
  a.name = tok.substr(0, colon);
  a.text = tok;
  std::string type = tok.substr(colon + 1);
  static const std::pair<const char*, A> kArrays[] = {{"f32", A::F32}, {"f64", A::F64}, {"i32", A::I32}, {"u32", A::U32},
                                                       {"i8", A::I8},   {"u8", A::U8},   {"codes", A::Codes}};
  for (const auto& [prefix, kind] : kArrays) {
    if (type == "u32") break;  // the scalar (as in args.ts, scalars take precedence)
    const size_t n = std::strlen(prefix);
    if (type.compare(0, n, prefix) != 0) continue;
    std::string rest = type.substr(n);
    if (!rest.empty() && rest[0] == '?') {
      a.empty_ok = true;
      rest = rest.substr(1);
    }
    if (!rest.empty() && (rest.front() != '[' || rest.back() != ']')) continue;
    a.t = T::Array;
    a.kind = kind;
    if (!rest.empty()) *len_src = rest.substr(1, rest.size() - 2);
    return a;
  }
  if (type == "int" || type == "pos" || type == "u32") {
    a.t = T::Int;
    a.lo = type == "pos" ? 1 : 0;
    a.hi = type == "u32" ? 4294967295.0 : kIntMax;
  } else if (type == "num") {
    a.t = T::Num;
  } else if (type.compare(0, 4, "num(") == 0 && type.back() == ')') {
    a.t = T::Num;
    if (!parse_range(type.substr(4, type.size() - 5), &a.lo, &a.hi)) throw ParseError{"bad range '" + tok + "'"};
  } else if (parse_range(type, &a.lo, &a.hi)) {
    a.t = T::Int;
  } else if (type == "str") {
    a.t = T::Str;
  } else {
    a.t = T::Str;
    a.choices = split(type, '|');
  }
  return a;
}

Constraint parse_constraint(Spec& s, const std::string& tok) {
  Constraint c;
  c.text = tok;
  if (tok.front() == '{' && tok.back() == '}') {
    c.t = 'r';
    std::string body = tok.substr(1, tok.size() - 2);
    for (size_t bar; !body.empty(); body = bar == std::string::npos ? "" : body.substr(bar + 2)) {
      bar = body.find("||");
      const std::string rel = body.substr(0, bar);
      static const char* const kOps[] = {"==", "<=", ">=", "<", ">"};
      size_t at = std::string::npos;
      const char* found = nullptr;
      for (const char* op : kOps) {
        const size_t p = rel.find(op);
        if (p != std::string::npos && (at == std::string::npos || p < at)) at = p, found = op;
      }
      if (found == nullptr) throw ParseError{"bad constraint '" + tok + "'"};
      c.any.push_back({found, parse_expr(s, rel.substr(0, at)), parse_expr(s, rel.substr(at + std::strlen(found)))});
    }
    return c;
  } else if (tok.compare(0, 4, "@in(") == 0 && tok.back() == ')') {
    const std::vector<std::string> p = split(tok.substr(4, tok.size() - 5), ',');
    if (p.size() == 3) {
      c.t = 'i';
      c.arr = find_arg(s, p[0]);
      c.a = parse_expr(s, p[1]);
      c.b = parse_expr(s, p[2]);
      return c;
    }
  } else if (tok.compare(0, 6, "@view(") == 0 && tok.back() == ')') {
    const std::vector<std::string> p = split(tok.substr(6, tok.size() - 7), ',');
    if (p.size() == 4) {
      c.t = 'v';
      c.arr = find_arg(s, p[0]);
      c.a = parse_expr(s, p[1]);
      c.strides = find_arg(s, p[2]);
      c.shape = find_arg(s, p[3]);
      return c;
    }
  }
  throw ParseError{"bad constraint '" + tok + "'"};
}

Spec parse_signature(const char* name, const char* sig) {
  Spec s;
  s.name = name;
  std::vector<std::string> lens, constraints;
  for (const std::string& tok : split(sig, ' ')) {
    if (tok[0] == '{' || tok[0] == '@') {
      constraints.push_back(tok);
    } else {
      std::string len;
      s.args.push_back(parse_arg_type(tok, &len));
      lens.push_back(len);
    }
  }
  for (size_t i = 0; i < s.args.size(); i++)
    if (!lens[i].empty()) s.args[i].len = parse_expr(s, lens[i]);
  for (const std::string& tok : constraints) s.constraints.push_back(parse_constraint(s, tok));
  return s;
}

// ---- checking ----

struct Value {
  double num = 0;
  napi_typedarray_type type = napi_int8_array;
  void* data = nullptr;
  size_t length = 0;
};

struct Failure {
  std::string what;
};

double element(const Value& v, size_t i) {
  switch (v.type) {
    case napi_int32_array: return static_cast<const int32_t*>(v.data)[i];
    case napi_uint32_array: return static_cast<const uint32_t*>(v.data)[i];
    case napi_int8_array: return static_cast<const int8_t*>(v.data)[i];
    case napi_uint8_array: return static_cast<const uint8_t*>(v.data)[i];
    case napi_float32_array: return static_cast<const float*>(v.data)[i];
    case napi_float64_array: return static_cast<const double*>(v.data)[i];
    default: return NAN;
  }
}

std::string num_str(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e18) return std::to_string(static_cast<int64_t>(v));
  return std::to_string(v);
}

int64_t checked(int64_t r, int64_t a, char op, int64_t b) {
  if (r >= kLimit || r <= -kLimit) throw Failure{"the sizes overflow (" + std::to_string(a) + " " + op + " " + std::to_string(b) + ")"};
  return r;
}

int64_t eval(const Spec& s, const std::vector<Value>& vals, int e) {
  const Node& n = s.nodes[e];
  switch (n.kind) {
    case 'n': return n.value;
    case 'v': return static_cast<int64_t>(vals[n.value].num);
    case 'l': return static_cast<int64_t>(vals[n.value].length);
    case 'e': {
      const Value& v = vals[n.value];
      if (static_cast<size_t>(n.a) >= v.length) throw Failure{s.args[n.value].name + " has no element " + std::to_string(n.a)};
      return static_cast<int64_t>(element(v, static_cast<size_t>(n.a)));
    }
    case 'p':
    case 's': {
      const Value& v = vals[n.value];
      double r = n.kind == 'p' ? 1 : 0;
      for (size_t i = 0; i < v.length; i++) {
        r = n.kind == 'p' ? r * element(v, i) : r + element(v, i);
        if (!(std::fabs(r) < static_cast<double>(kLimit)))
          throw Failure{std::string(n.kind == 'p' ? "prod(" : "sum(") + s.args[n.value].name + ") is too large"};
      }
      return static_cast<int64_t>(r);
    }
    default: break;
  }
  const int64_t a = eval(s, vals, n.a), b = eval(s, vals, n.b);
  int64_t r = 0;
  switch (n.kind) {
    case '+': return checked(a + b, a, '+', b);
    case '-': return checked(a - b, a, '-', b);
    case '*':
      if (__builtin_mul_overflow(a, b, &r)) r = kLimit;
      return checked(r, a, '*', b);
    case 'm': return a < b ? a : b;
    default:
      if (b == 0) throw Failure{"division by zero"};
      if (n.kind == '/') return a / b;
      return a / b + ((a % b != 0) && ((a < 0) == (b < 0)) ? 1 : 0);  // ceil
  }
}

const char* array_name(A k) {
  switch (k) {
    case A::F32: return "Float32Array";
    case A::F64: return "Float64Array";
    case A::I32: return "Int32Array";
    case A::U32: return "Uint32Array";
    case A::I8: return "Int8Array";
    case A::U8: return "Uint8Array";
    default: return "Int8Array or Uint8Array";
  }
}

bool kind_matches(A k, napi_typedarray_type t) {
  switch (k) {
    case A::F32: return t == napi_float32_array;
    case A::F64: return t == napi_float64_array;
    case A::I32: return t == napi_int32_array;
    case A::U32: return t == napi_uint32_array;
    case A::I8: return t == napi_int8_array;
    case A::U8: return t == napi_uint8_array;
    default: return t == napi_int8_array || t == napi_uint8_array;
  }
}

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsArray()) return "a plain array";
  if (v.IsNumber()) return "number " + num_str(v.As<Napi::Number>().DoubleValue());
  if (v.IsString()) return "string \"" + v.As<Napi::String>().Utf8Value() + "\"";
  if (v.IsTypedArray()) {
    static const char* const kNames[] = {"Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array",
                                         "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array"};
    const int t = v.As<Napi::TypedArray>().TypedArrayType();
    return t >= 0 && t <= 10 ? kNames[t] : "a typed array";
  }
  if (v.IsBoolean()) return "boolean";
  return v.IsFunction() ? "a function" : "an object";
}

Value check_one(const Arg& a, const Napi::Value& v, size_t i) {
  const std::string where = "argument " + std::to_string(i + 1) + " (" + a.name + ")";
  Value out;
  if (a.t == T::Int || a.t == T::Num) {
    const bool bounded = !std::isinf(a.lo);
    bool ok = v.IsNumber();
    if (ok) {
      out.num = v.As<Napi::Number>().DoubleValue();
      if (a.t == T::Int) ok = std::isfinite(out.num) && out.num == std::floor(out.num);
      if (ok && bounded) ok = out.num >= a.lo && out.num <= a.hi;
    }
    if (!ok)
      throw Failure{where + " must be " + (a.t == T::Int ? "an integer" : "a number") +
                    (bounded ? " in [" + num_str(a.lo) + ", " + num_str(a.hi) + "]" : "") + ", got " + describe(v)};
  } else if (a.t == T::Str) {
    bool ok = v.IsString();
    if (ok && !a.choices.empty()) {
      const std::string s = v.As<Napi::String>().Utf8Value();
      ok = false;
      for (const std::string& c : a.choices) ok = ok || c == s;
    }
    if (!ok) {
      std::string list;
      for (const std::string& c : a.choices) list += (list.empty() ? "" : ", ") + c;
      throw Failure{where + " must be " + (a.choices.empty() ? "a string" : "one of " + list) + ", got " + describe(v)};
    }
  } else {
    bool ok = v.IsTypedArray();
    if (ok) {
      napi_value buffer;
      size_t offset = 0;
      napi_get_typedarray_info(v.Env(), v, &out.type, &out.length, &out.data, &buffer, &offset);
      ok = kind_matches(a.kind, out.type);
    }
    if (!ok) throw Failure{where + " must be a " + array_name(a.kind) + ", got " + describe(v)};
  }
  return out;
}

void check_constraint(const Spec& s, const Constraint& c, const std::vector<Value>& vals) {
  if (c.t == 'r') {
    std::string values;
    for (const Relation& r : c.any) {
      const int64_t a = eval(s, vals, r.a), b = eval(s, vals, r.b);
      if (r.op == "==" ? a == b : r.op == "<=" ? a <= b : r.op == ">=" ? a >= b : r.op == "<" ? a < b : a > b) return;
      values += (values.empty() ? "" : "; ") + std::to_string(a) + " vs " + std::to_string(b);
    }
    throw Failure{c.text.substr(1, c.text.size() - 2) + " does not hold (" + values + ")"};
  } else if (c.t == 'i') {
    const Value& arr = vals[c.arr];
    const double lo = static_cast<double>(eval(s, vals, c.a)), hi = static_cast<double>(eval(s, vals, c.b));
    for (size_t i = 0; i < arr.length; i++) {
      const double e = element(arr, i);
      if (!(e >= lo && e < hi))
        throw Failure{s.args[c.arr].name + "[" + std::to_string(i) + "] = " + num_str(e) + " is outside [" + num_str(lo) + ", " + num_str(hi) + ")"};
    }
  } else {
    const Value &buf = vals[c.arr], &strides = vals[c.strides], &shape = vals[c.shape];
    int64_t lo = eval(s, vals, c.a), hi = lo;
    bool empty = false;
    for (size_t d = 0; d < shape.length && d < strides.length; d++) {
      const int64_t extent = static_cast<int64_t>(element(shape, d)), stride = static_cast<int64_t>(element(strides, d));
      if (extent < 0) throw Failure{s.args[c.shape].name + "[" + std::to_string(d) + "] = " + std::to_string(extent) + " is negative"};
      if (extent == 0) empty = true;
      const int64_t span = (extent - 1) * stride;  // |extent|, |stride| < 2^31: no overflow
      if (span < 0) lo += span;
      else hi += span;
    }
    if (!empty && (lo < 0 || hi >= static_cast<int64_t>(buf.length)))
      throw Failure{s.args[c.arr].name + " is read at indices " + std::to_string(lo) + ".." + std::to_string(hi) + ", outside its " +
                    std::to_string(buf.length) + " elements"};
  }
}

void check_call(const Spec& s, const Napi::CallbackInfo& info) {
  if (info.Length() != s.args.size()) {
    std::string names;
    for (const Arg& a : s.args) names += (names.empty() ? "" : ", ") + a.name;
    throw Failure{"expected " + std::to_string(s.args.size()) + " arguments (" + names + "), got " + std::to_string(info.Length())};
  }
  std::vector<Value> vals;
  vals.reserve(s.args.size());
  for (size_t i = 0; i < s.args.size(); i++) vals.push_back(check_one(s.args[i], info[i], i));
  for (const Arg& a : s.args) {
    if (a.t != T::Array || a.len < 0) continue;
    const Value& v = vals[&a - s.args.data()];
    const int64_t need = eval(s, vals, a.len);
    if (static_cast<int64_t>(v.length) < need && !(a.empty_ok && v.length == 0)) {
      const size_t open = a.text.find('[');
      throw Failure{a.name + " has " + std::to_string(v.length) + " elements, needs at least " + std::to_string(need) + " (" +
                    a.text.substr(open + 1, a.text.size() - open - 2) + ")"};
    }
  }
  for (const Constraint& c : s.constraints) check_constraint(s, c, vals);
}

struct Registered {
  Spec spec;
  Binding fn;
};

Napi::Value call_checked(const Napi::CallbackInfo& info) {
  const Registered* r = static_cast<const Registered*>(info.Data());
  try {
    check_call(r->spec, info);
  } catch (const Failure& f) {
    Napi::TypeError::New(info.Env(), r->spec.name + ": " + f.what).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  try {
    return r->fn(info);
  } catch (const std::exception& e) {
    Napi::Error::New(info.Env(), r->spec.name + ": " + e.what()).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
}

}  // namespace

Napi::Object signature_table(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  for (size_t i = 0; i < kSignatureCount; i++) o.Set(kSignatures[i].name, kSignatures[i].signature);
  return o;
}

Napi::Function checked_function(Napi::Env env, const char* name, Binding fn) {
  static std::map<std::string, Registered*> registry;  // one per binding, alive as long as the addon
  auto it = registry.find(name);
  if (it == registry.end()) {
    const SignatureEntry* entry = nullptr;
    for (size_t i = 0; i < kSignatureCount; i++)
      if (std::strcmp(kSignatures[i].name, name) == 0) entry = &kSignatures[i];
    if (entry == nullptr) {
      Napi::Error::New(env, std::string("native binding '") + name + "' has no argument signature in native/src/signatures.cc")
          .ThrowAsJavaScriptException();
      return Napi::Function();
    }
    try {
      it = registry.emplace(name, new Registered{parse_signature(name, entry->signature), fn}).first;
    } catch (const ParseError& e) {
      Napi::Error::New(env, std::string("native/src/signatures.cc, '") + name + "': " + e.what).ThrowAsJavaScriptException();
      return Napi::Function();
    }
  }
  return Napi::Function::New(env, call_checked, name, it->second);
}

}  // namespace fqt
