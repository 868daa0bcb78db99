// Argument checking for every N-API entry point (issue 18): kernels trust their typed arrays and integers, so
// each binding is registered through checked_function(), which checks the call against the binding's one-line
// signature (native/src/signatures.cc; grammar in src/backend/signatures.ts, the TypeScript twin of this
// checker is src/backend/args.ts) before the kernel runs: argument count, types, integer ranges, buffer lengths
// against the integer dimensions (overflow-checked), index arrays and strided views inside their buffers. A bad
// call throws a JavaScript Error naming the binding, the argument and the rule; it never reaches the kernel.
// C++ exceptions escaping a kernel (std::bad_alloc ...) also become JavaScript errors instead of an abort.
//
// A new binding needs one line in signatures.cc; a binding without one fails createBackend() loudly.
#pragma once

#include <napi.h>

namespace fqt {

using Binding = Napi::Value (*)(const Napi::CallbackInfo&);

// `fn` wrapped so that every call is checked against the signature registered under `name`. Throws a
// JavaScript error (and returns an empty Function) when `name` has no signature or it does not parse.
Napi::Function checked_function(Napi::Env env, const char* name, Binding fn);

struct SignatureEntry {
  const char* name;
  const char* signature;
};
// {name: signature} of every entry of the table, for info() (tests compare it with the TypeScript table).
Napi::Object signature_table(Napi::Env env);

// The signature table (signatures.cc) and its size.
extern const SignatureEntry kSignatures[];
extern const size_t kSignatureCount;

}  // namespace fqt
