// The parser of argument signatures (args_spec.h): each binding's line is parsed once, when it is registered.
#include <cctype>
#include <cstdlib>
#include <cstring>

#include "args_spec.h"

namespace fqt {
namespace argspec {

namespace {

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

}  // namespace

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

}  // namespace argspec
}  // namespace fqt
