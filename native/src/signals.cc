// See signals.h. The handler only touches a lock-free atomic and async-signal-safe calls (signal, raise).
#include "signals.h"

#include <atomic>
#include <csignal>
#include <string>

namespace fqt {

namespace {

std::atomic<int> g_signal{0};
struct sigaction g_old_int, g_old_term;
bool g_installed = false;

void on_stop_signal(int sig) {
  int none = 0;
  if (!g_signal.compare_exchange_strong(none, sig)) {
    // A second stop signal: the user insists. Default action, now.
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}

}  // namespace

Napi::Value StopSignals(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string action = info[0].As<Napi::String>().Utf8Value();
  if (action == "poll") return Napi::Number::New(env, g_signal.load());
  if (action == "install" && !g_installed) {
    struct sigaction sa = {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // file writes in progress go on; the loop polls after the step
    g_signal.store(0);
    sigaction(SIGINT, &sa, &g_old_int);
    sigaction(SIGTERM, &sa, &g_old_term);
    g_installed = true;
  } else if (action == "uninstall" && g_installed) {
    sigaction(SIGINT, &g_old_int, nullptr);
    sigaction(SIGTERM, &g_old_term, nullptr);
    g_installed = false;
    g_signal.store(0);
  }
  return env.Undefined();
}

}  // namespace fqt
