// Graceful stop signals for the synchronous training loop (src/train/signals.ts): JavaScript signal listeners
// run on the event loop, which a running train() never returns to, so the addon records SIGINT / SIGTERM itself.
#pragma once

#include <napi.h>

namespace fqt {

// stopSignals('install' | 'poll' | 'uninstall'): install handlers that record the first SIGINT / SIGTERM (a second
// one restores the default action and re-raises: the process ends at once); poll returns the recorded signal
// number (0: none); uninstall restores the previous handlers.
Napi::Value StopSignals(const Napi::CallbackInfo& info);

}  // namespace fqt
