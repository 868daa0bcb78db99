// The gloo process group of data-parallel training (src/distributed/): a separate addon, fqt_dist.node, built only when
// gloo's headers and library are present (scripts/build-native.mjs), so the kernel addon never depends on libgloo.
//
// A Group is one gloo context over TCP. Rendezvous is split in two so that JavaScript can exchange addresses
// asynchronously (src/distributed/rendezvous.ts) — the same steps as gloo::rendezvous::Context::connectFullMesh:
//   new Group(rank, size, host, timeoutMs)   binds a TCP device on `host` and creates one pair per peer;
//   addresses()                              the address blob of each pair (what a peer needs to connect);
//   connect(blobs, localRank)                connects pair j with the blob rank j created for this rank.
// Collectives (all blocking, all with the group's timeout; an I/O error or a timeout throws a JS Error whose
// `code` is 'FQT_DIST_IO' and whose message is gloo's):
//   allreduceF32(x)                          x ← Σ over ranks (gloo's ring all-reduce, float sum)
//   allreduceBlocks(buf, blockBytes, scratch, reduce)
//                                            gloo's ring over opaque blocks of `blockBytes` bytes: whenever the
//                                            ring reduces blocks [k0, k0 + n) received from the next rank, their
//                                            bytes are copied to `scratch` and reduce(k0, n) is called, which must
//                                            write the reduced blocks into buf at k0·blockBytes (compressed
//                                            all-reduce, src/distributed/coded-allreduce.ts)
//   broadcast(bytes, root), barrier(), close()
#include <napi.h>

#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/common/error.h>
#include <gloo/config.h>
#include <gloo/context.h>
#include <gloo/math.h>
#include <gloo/transport/context.h>
#include <gloo/transport/tcp/device.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

// gloo::Context with the transport context set by the two-step rendezvous (its members are protected).
class MeshContext : public gloo::Context {
 public:
  MeshContext(int rank, int size, std::chrono::milliseconds timeout) : gloo::Context(rank, size) { setTimeout(timeout); }

  void createPairs(std::shared_ptr<gloo::transport::Device> dev) {
    device_ = dev;
    transportContext_ = dev->createContext(rank, size);
    transportContext_->setTimeout(getTimeout());
    for (int j = 0; j < size; j++)
      if (j != rank) transportContext_->createPair(j);
  }
  std::vector<char> address(int peer) { return transportContext_->getPair(peer)->address().bytes(); }
  void connect(int peer, const std::vector<char>& blob, int localRank) {
    auto& pair = transportContext_->getPair(peer);
    pair->setLocalRank(localRank);
    pair->connect(blob);
  }
};

// All-reduce options over opaque elements of `blockBytes` bytes (the public setters take the element size from a
// C++ type): gloo then cuts the ring's segments at block boundaries.
class BlockAllreduceOptions : public gloo::AllreduceOptions {
 public:
  BlockAllreduceOptions(const std::shared_ptr<gloo::Context>& ctx, void* ptr, size_t blocks, size_t blockBytes)
      : gloo::AllreduceOptions(ctx) {
    impl_.elements = blocks;
    impl_.elementSize = blockBytes;
    impl_.out.push_back(ctx->createUnboundBuffer(ptr, blocks * blockBytes));
  }
};

struct JsAbort {};  // the reduce callback threw: the JS exception is already pending

class Group : public Napi::ObjectWrap<Group> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Group",
                       {InstanceMethod("addresses", &Group::Addresses), InstanceMethod("connect", &Group::Connect),
                        InstanceMethod("allreduceF32", &Group::AllreduceF32),
                        InstanceMethod("allreduceBlocks", &Group::AllreduceBlocks),
                        InstanceMethod("broadcast", &Group::Broadcast), InstanceMethod("barrier", &Group::Barrier),
                        InstanceMethod("close", &Group::Close)});
  }

  explicit Group(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Group>(info) {
    const int rank = info[0].As<Napi::Number>().Int32Value(), size = info[1].As<Napi::Number>().Int32Value();
    const std::string host = info[2].As<Napi::String>().Utf8Value();
    timeout_ = std::chrono::milliseconds(info[3].As<Napi::Number>().Int64Value());
    guard(info.Env(), [&] {
      gloo::transport::tcp::attr attr;
      attr.hostname = host;
      ctx_ = std::make_shared<MeshContext>(rank, size, timeout_);
      ctx_->createPairs(gloo::transport::tcp::CreateDevice(attr));
    });
  }

 private:
  std::shared_ptr<MeshContext> ctx_;
  std::chrono::milliseconds timeout_{0};
  uint32_t tag_ = 0;

  // Runs f, turning C++ exceptions into a pending JS exception; false when one was thrown.
  template <class F>
  bool guard(Napi::Env env, F&& f) {
    try {
      f();
      return true;
    } catch (const JsAbort&) {
      // The reduce callback threw (a bug): the ring stopped half-way, so the group is unusable. Closing it makes the
      // peers fail at once instead of at their timeout.
      ctx_->closeConnections();
      ctx_.reset();
      return false;
    } catch (const gloo::IoException& e) {
      throwIo(env, e.what());
    } catch (const std::exception& e) {
      Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
    }
    return false;
  }
  static void throwIo(Napi::Env env, const char* what) {
    Napi::Error err = Napi::Error::New(env, what);
    err.Set("code", Napi::String::New(env, "FQT_DIST_IO"));
    err.ThrowAsJavaScriptException();
  }
  // Every collective gets a tag of its own (gloo matches messages by slot) and the group's timeout.
  template <class Options>
  Options& stamped(Options& opts) {
    opts.setTag(tag_++);
    opts.setTimeout(timeout_);
    return opts;
  }
  bool open(Napi::Env env) {
    if (ctx_) return true;
    Napi::Error::New(env, "the process group is closed").ThrowAsJavaScriptException();
    return false;
  }

  Napi::Value Addresses(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!open(env)) return env.Undefined();
    Napi::Array out = Napi::Array::New(env, ctx_->size);
    for (int j = 0; j < ctx_->size; j++) {
      std::vector<char> a;
      if (j != ctx_->rank) a = ctx_->address(j);
      out.Set(j, Napi::Buffer<char>::Copy(env, a.data(), a.size()));
    }
    return out;
  }

  Napi::Value Connect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!open(env)) return env.Undefined();
    Napi::Array blobs = info[0].As<Napi::Array>();
    const int localRank = info[1].As<Napi::Number>().Int32Value();
    guard(env, [&] {
      for (int j = 0; j < ctx_->size; j++) {
        if (j == ctx_->rank) continue;
        Napi::Uint8Array b = blobs.Get(j).As<Napi::Uint8Array>();
        ctx_->connect(j, std::vector<char>(b.Data(), b.Data() + b.ByteLength()), localRank);
      }
    });
    return env.Undefined();
  }

  Napi::Value AllreduceF32(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!open(env)) return env.Undefined();
    Napi::Float32Array x = info[0].As<Napi::Float32Array>();
    guard(env, [&] {
      gloo::AllreduceOptions opts(ctx_);
      opts.setOutput(x.Data(), x.ElementLength());
      opts.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>));
      opts.setAlgorithm(gloo::AllreduceOptions::Algorithm::RING);
      gloo::allreduce(stamped(opts));
    });
    return env.Undefined();
  }

  // gloo's ring on elements of blockBytes bytes. The ring calls reduce(c, a, b, n) with c = a = buf + offset (this
  // rank's blocks) and b = the blocks received; the block index follows from c.
  Napi::Value AllreduceBlocks(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!open(env)) return env.Undefined();
    Napi::Uint8Array buf = info[0].As<Napi::Uint8Array>();
    const size_t blockBytes = info[1].As<Napi::Number>().Int64Value();
    Napi::Uint8Array scratch = info[2].As<Napi::Uint8Array>();
    Napi::Function reduce = info[3].As<Napi::Function>();
    uint8_t* base = buf.Data();
    guard(env, [&] {
      BlockAllreduceOptions opts(ctx_, base, buf.ByteLength() / blockBytes, blockBytes);
      opts.setReduceFunction([&](void* c, const void*, const void* b, size_t n) {
        const size_t k0 = (static_cast<uint8_t*>(c) - base) / blockBytes;
        std::memcpy(scratch.Data(), b, n * blockBytes);
        reduce.Call({Napi::Number::New(env, static_cast<double>(k0)), Napi::Number::New(env, static_cast<double>(n))});
        if (env.IsExceptionPending()) throw JsAbort{};
      });
      opts.setAlgorithm(gloo::AllreduceOptions::Algorithm::RING);
      gloo::allreduce(stamped(opts));
    });
    return env.Undefined();
  }

  Napi::Value Broadcast(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!open(env)) return env.Undefined();
    Napi::Uint8Array x = info[0].As<Napi::Uint8Array>();
    const int root = info[1].As<Napi::Number>().Int32Value();
    guard(env, [&] {
      gloo::BroadcastOptions opts(ctx_);
      opts.setOutput(x.Data(), x.ByteLength());
      opts.setRoot(root);
      gloo::broadcast(stamped(opts));
    });
    return env.Undefined();
  }

  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!open(env)) return env.Undefined();
    guard(env, [&] {
      gloo::BarrierOptions opts(ctx_);
      gloo::barrier(stamped(opts));
    });
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (ctx_) {
      guard(info.Env(), [&] { ctx_->closeConnections(); });
      ctx_.reset();
    }
    return info.Env().Undefined();
  }
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Group", Group::Define(env));
  exports.Set("glooVersion", Napi::String::New(env, std::to_string(GLOO_VERSION_MAJOR) + "." +
                                                        std::to_string(GLOO_VERSION_MINOR) + "." +
                                                        std::to_string(GLOO_VERSION_PATCH)));
  return exports;
}

}  // namespace

NODE_API_MODULE(fqt_dist, Init)
