// The argument checker of args.h: checks every call against its parsed signature (args_parse.cc). Mirrors
// src/backend/args.ts (same grammar, same rules, same messages).
#include "args.h"
#include "args_spec.h"

#include <cmath>
#include <cstring>
#include <exception>
#include <map>
#include <string>
#include <vector>

namespace fqt {

namespace {

using namespace argspec;

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
