// fnnet's oneDNN RNN kernels: one direction of one LSTM or linear-before-reset GRU layer, as XLA FFI
// custom calls (forward inference, forward training with oneDNN's workspace, backward).
//
// The batch comes split into S equal chunks, each a contiguous, time-major block; the chunks run at
// once on XLA's intra-op thread pool, each through a single-threaded oneDNN primitive. (oneDNN's own
// OpenMP threads, one parallel region per time step, ran 2-3x slower inside an XLA process than alone
// on this 2-core machine; independent chunks need no barrier per step.) Layouts, row-major:
//   xs [S, T, n, F] (tnc per chunk)   h0/c0/hT/cT [S, n, H]   ys [S, T, n, H]   ws [S, bytes]
//   w_layer [F, G, H], w_iter [H, G, H] (ldigo), bias [Gb, H] (ldgo); weight gradients [S, ...]
//   (one per chunk, summed by the caller: oneDNN accumulates them).
// Gate order is oneDNN's: LSTM i, f, g, o; GRU u (PyTorch's z), r, n, then the GRU's extra bias
// (the one inside the reset product); fnnet/layers/_onednn/ops.py maps fnnet's parameters to these.
// oneDNN may want the weights in its own blocked format: they are reordered once per call, shared
// read-only by the chunks, and the weight gradients are reordered back.

#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using dnnl::memory;
using tag = dnnl::memory::format_tag;

namespace {

enum Cell : int { kLstm = 0, kGru = 1 };

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

// A 64-byte aligned byte buffer that only grows.
struct Buffer {
  std::vector<char> bytes;
  void* get(size_t n) {
    if (bytes.size() < n + 64) bytes.resize(n + 64);
    auto p = reinterpret_cast<uintptr_t>(bytes.data());
    return reinterpret_cast<void*>((p + 63) & ~uintptr_t(63));
  }
};

memory::data_type dnnl_type(ffi::DataType t) {
  switch (t) {
    case ffi::DataType::F32: return memory::data_type::f32;
    case ffi::DataType::BF16: return memory::data_type::bf16;
    default: throw std::runtime_error("oneDNN RNN: only float32 and bfloat16 buffers are supported");
  }
}

// Shapes and dtypes fixing one chunk's primitives: cell, T, n, F, H, data, state c, bias.
using Key = std::tuple<int, int64_t, int64_t, int64_t, int64_t, int, int, int>;

struct Prims {
  memory::desc x, h, c, wl, wi, b, y;  // the user's plain layouts, one chunk
  dnnl::primitive_desc fwd_pd, infer_pd, bwd_pd;
  dnnl::primitive fwd, infer, bwd;
};

std::shared_ptr<Prims> build(const Key& key) {
  auto [cell, T, N, F, H, dt_i, dtc_i, dtb_i] = key;
  auto dt = memory::data_type(dt_i), dtc = memory::data_type(dtc_i), dtb = memory::data_type(dtb_i);
  auto p = std::make_shared<Prims>();
  const int64_t G = cell == kLstm ? 4 : 3, Gb = 4;  // the LSTM's 4 gates; the GRU's 3 and its extra bias
  p->x = memory::desc({T, N, F}, dt, tag::tnc);
  p->y = memory::desc({T, N, H}, dt, tag::tnc);
  p->h = memory::desc({1, 1, N, H}, dt, tag::ldnc);
  p->c = memory::desc({1, 1, N, H}, dtc, tag::ldnc);
  p->wl = memory::desc({1, 1, F, G, H}, dt, tag::ldigo);
  p->wi = memory::desc({1, 1, H, G, H}, dt, tag::ldigo);
  p->b = memory::desc({1, 1, Gb, H}, dtb, tag::ldgo);
  auto wl_any = memory::desc({1, 1, F, G, H}, dt, tag::any);
  auto wi_any = memory::desc({1, 1, H, G, H}, dt, tag::any);
  auto dir = dnnl::rnn_direction::unidirectional_left2right;
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // one per thread: execution is thread-safe
  auto& e = engine();
  using pk = dnnl::prop_kind;
  if (cell == kLstm) {
    auto make = [&](pk kind) {
      return dnnl::lstm_forward::primitive_desc(e, kind, dir, p->x, p->h, p->c, wl_any, wi_any, p->b, p->y,
                                                p->h, p->c, attr);
    };
    auto fpd = make(pk::forward_training);
    auto bpd = dnnl::lstm_backward::primitive_desc(
        e, pk::backward, dir, p->x, p->h, p->c, wl_any, wi_any, p->b, p->y, p->h, p->c, p->x, p->h, p->c,
        wl_any, wi_any, p->b, p->y, p->h, p->c, fpd, attr);
    auto ipd = make(pk::forward_inference);
    p->fwd_pd = fpd, p->infer_pd = ipd, p->bwd_pd = bpd;
    p->fwd = dnnl::lstm_forward(fpd), p->infer = dnnl::lstm_forward(ipd), p->bwd = dnnl::lstm_backward(bpd);
  } else {
    auto make = [&](pk kind) {
      return dnnl::lbr_gru_forward::primitive_desc(e, kind, dir, p->x, p->h, wl_any, wi_any, p->b, p->y, p->h,
                                                   attr);
    };
    auto fpd = make(pk::forward_training);
    auto bpd = dnnl::lbr_gru_backward::primitive_desc(e, pk::backward, dir, p->x, p->h, wl_any, wi_any, p->b,
                                                      p->y, p->h, p->x, p->h, wl_any, wi_any, p->b, p->y, p->h,
                                                      fpd, attr);
    auto ipd = make(pk::forward_inference);
    p->fwd_pd = fpd, p->infer_pd = ipd, p->bwd_pd = bpd;
    p->fwd = dnnl::lbr_gru_forward(fpd), p->infer = dnnl::lbr_gru_forward(ipd);
    p->bwd = dnnl::lbr_gru_backward(bpd);
  }
  return p;
}

std::shared_ptr<Prims> get(const Key& key) {
  static std::mutex mutex;
  static std::map<Key, std::shared_ptr<Prims>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  auto p = build(key);
  cache.emplace(key, p);
  return p;
}

// The chunk count and one chunk's key, from xs [S, T, n, F] and h0 [S, n, H].
std::pair<int64_t, Key> key_of(int cell, ffi::AnyBuffer xs, ffi::AnyBuffer h0, const ffi::AnyBuffer* c0,
                               ffi::AnyBuffer bias) {
  auto d = xs.dimensions();
  if (d.size() != 4 || h0.dimensions().size() != 3) throw std::runtime_error("oneDNN RNN: xs must be [S, T, n, F]");
  auto dt = dnnl_type(xs.element_type());
  auto dtc = c0 ? dnnl_type(c0->element_type()) : dt;
  Key key{cell, d[1], d[2], d[3], h0.dimensions()[2], int(dt), int(dtc), int(dnnl_type(bias.element_type()))};
  return {d[0], key};
}

memory mem(const memory::desc& md, const void* data, int64_t chunk = 0) {
  auto* p = static_cast<char*>(const_cast<void*>(data)) + chunk * md.get_size();
  return memory(md, engine(), p);
}

// `data` in the layout `user` as memory in `want`: itself, or reordered into `buf`.
memory as(const memory::desc& want, const memory::desc& user, void* data, Buffer& buf) {
  memory m(user, engine(), data);
  if (want == user) return m;
  memory out(want, engine(), buf.get(want.get_size()));
  dnnl::reorder(m, out).execute(stream(), m, out);
  stream().wait();
  return out;
}

memory scratchpad(const dnnl::primitive_desc& pd) {
  thread_local Buffer buf;
  auto md = pd.scratchpad_desc();
  return memory(md, engine(), buf.get(md.get_size()));
}

// Runs f(0), ..., f(S - 1) on the calling thread and on XLA's intra-op pool, each chunk on one thread
// with oneDNN single-threaded; returns when all are done, rethrowing the first error. A pool task that
// starts after every chunk was taken returns at once (it only touches the shared counters).
template <class F>
void for_each_chunk(ffi::ThreadPool& pool, int64_t S, F&& f) {
  struct State {
    std::atomic<int64_t> next{0};
    int64_t done = 0;
    std::mutex m;
    std::condition_variable cv;
    std::string error;
  };
  auto st = std::make_shared<State>();
  auto run = [S](const std::shared_ptr<State>& st, F* f) {
    for (int64_t i; (i = st->next.fetch_add(1)) < S;) {
      std::string error;
      try {
        omp_set_num_threads(1);
        (*f)(i);
      } catch (const std::exception& e) {
        error = e.what();
      }
      std::lock_guard<std::mutex> lock(st->m);
      if (!error.empty() && st->error.empty()) st->error = error;
      if (++st->done == S) st->cv.notify_all();
    }
  };
  int64_t helpers = std::min<int64_t>(S, pool.num_threads()) - 1;
  for (int64_t k = 0; k < helpers; ++k) pool.Schedule([st, fp = &f, run] { run(st, fp); });
  run(st, &f);
  std::unique_lock<std::mutex> lock(st->m);
  st->cv.wait(lock, [&] { return st->done == S; });
  if (!st->error.empty()) throw std::runtime_error(st->error);
}

// Forward; `ws` is null for inference.
void forward(ffi::ThreadPool& pool, int cell, ffi::AnyBuffer xs, ffi::AnyBuffer h0, const ffi::AnyBuffer* c0,
             ffi::AnyBuffer wl, ffi::AnyBuffer wi, ffi::AnyBuffer b, void* ys, void* hT, void* cT, void* ws) {
  auto [S, key] = key_of(cell, xs, h0, c0, b);
  auto p = get(key);
  auto& pd = ws ? p->fwd_pd : p->infer_pd;
  Buffer wl_buf, wi_buf;
  memory wl_m = as(pd.weights_desc(0), p->wl, wl.untyped_data(), wl_buf);
  memory wi_m = as(pd.weights_desc(1), p->wi, wi.untyped_data(), wi_buf);
  auto ws_md = pd.workspace_desc();
  for_each_chunk(pool, S, [&](int64_t i) {
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC_LAYER, mem(p->x, xs.untyped_data(), i)},
        {DNNL_ARG_SRC_ITER, mem(p->h, h0.untyped_data(), i)},
        {DNNL_ARG_WEIGHTS_LAYER, wl_m},
        {DNNL_ARG_WEIGHTS_ITER, wi_m},
        {DNNL_ARG_BIAS, mem(p->b, b.untyped_data())},
        {DNNL_ARG_DST_LAYER, mem(p->y, ys, i)},
        {DNNL_ARG_DST_ITER, mem(p->h, hT, i)},
        {DNNL_ARG_SCRATCHPAD, scratchpad(pd)},
    };
    if (c0) {
      args[DNNL_ARG_SRC_ITER_C] = mem(p->c, c0->untyped_data(), i);
      args[DNNL_ARG_DST_ITER_C] = mem(p->c, cT, i);
    }
    if (ws) args[DNNL_ARG_WORKSPACE] = mem(ws_md, ws, i);
    (ws ? p->fwd : p->infer).execute(stream(), args);
    stream().wait();
  });
}

struct Grads {
  void *dxs, *dh0, *dc0, *dwl, *dwi, *db;
};

void backward(ffi::ThreadPool& pool, int cell, ffi::AnyBuffer xs, ffi::AnyBuffer h0, const ffi::AnyBuffer* c0,
              ffi::AnyBuffer wl, ffi::AnyBuffer wi, ffi::AnyBuffer b, ffi::AnyBuffer ys, ffi::AnyBuffer hT,
              const ffi::AnyBuffer* cT, ffi::AnyBuffer ws, ffi::AnyBuffer dys, ffi::AnyBuffer dhT,
              const ffi::AnyBuffer* dcT, Grads g) {
  auto [S, key] = key_of(cell, xs, h0, c0, b);
  auto p = get(key);
  auto& pd = p->bwd_pd;
  Buffer wl_buf, wi_buf;
  memory wl_m = as(pd.weights_desc(0), p->wl, wl.untyped_data(), wl_buf);
  memory wi_m = as(pd.weights_desc(1), p->wi, wi.untyped_data(), wi_buf);
  auto ws_md = pd.workspace_desc();
  for_each_chunk(pool, S, [&](int64_t i) {
    thread_local Buffer dwl_buf, dwi_buf;
    // The gradients oneDNN accumulates into, zeroed: the chunk's outputs when the layouts agree.
    auto zeroed = [i](const memory::desc& want, const memory::desc& user, void* out, Buffer& buf) {
      void* data = want == user ? static_cast<char*>(out) + i * user.get_size() : buf.get(want.get_size());
      std::memset(data, 0, want.get_size());
      return memory(want, engine(), data);
    };
    memory dwl = zeroed(pd.diff_weights_desc(0), p->wl, g.dwl, dwl_buf);
    memory dwi = zeroed(pd.diff_weights_desc(1), p->wi, g.dwi, dwi_buf);
    memory db = mem(p->b, g.db, i);
    std::memset(db.get_data_handle(), 0, p->b.get_size());
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC_LAYER, mem(p->x, xs.untyped_data(), i)},
        {DNNL_ARG_SRC_ITER, mem(p->h, h0.untyped_data(), i)},
        {DNNL_ARG_WEIGHTS_LAYER, wl_m},
        {DNNL_ARG_WEIGHTS_ITER, wi_m},
        {DNNL_ARG_BIAS, mem(p->b, b.untyped_data())},
        {DNNL_ARG_DST_LAYER, mem(p->y, ys.untyped_data(), i)},
        {DNNL_ARG_DST_ITER, mem(p->h, hT.untyped_data(), i)},
        {DNNL_ARG_WORKSPACE, mem(ws_md, ws.untyped_data(), i)},
        {DNNL_ARG_DIFF_DST_LAYER, mem(p->y, dys.untyped_data(), i)},
        {DNNL_ARG_DIFF_DST_ITER, mem(p->h, dhT.untyped_data(), i)},
        {DNNL_ARG_DIFF_SRC_LAYER, mem(p->x, g.dxs, i)},
        {DNNL_ARG_DIFF_SRC_ITER, mem(p->h, g.dh0, i)},
        {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl},
        {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi},
        {DNNL_ARG_DIFF_BIAS, db},
        {DNNL_ARG_SCRATCHPAD, scratchpad(pd)},
    };
    if (c0) {
      args[DNNL_ARG_SRC_ITER_C] = mem(p->c, c0->untyped_data(), i);
      args[DNNL_ARG_DST_ITER_C] = mem(p->c, cT->untyped_data(), i);
      args[DNNL_ARG_DIFF_DST_ITER_C] = mem(p->c, dcT->untyped_data(), i);
      args[DNNL_ARG_DIFF_SRC_ITER_C] = mem(p->c, g.dc0, i);
    }
    p->bwd.execute(stream(), args);
    for (auto [got, user, out] : {std::tuple{dwl, p->wl, g.dwl}, std::tuple{dwi, p->wi, g.dwi}}) {
      if (got.get_desc() == user) continue;
      memory dst = mem(user, out, i);
      dnnl::reorder(got, dst).execute(stream(), got, dst);
    }
    stream().wait();
  });
}

template <class F>
ffi::Error guarded(F&& f) {
  try {
    f();
    return ffi::Error::Success();
  } catch (const dnnl::error& e) {
    return ffi::Error::Internal(std::string("oneDNN: ") + e.what());
  } catch (const std::exception& e) {
    return ffi::Error::Internal(e.what());
  }
}

using Buf = ffi::AnyBuffer;
using Out = ffi::Result<ffi::AnyBuffer>;
using Pool = ffi::ThreadPool;

ffi::Error LstmInfer(Pool pool, Buf xs, Buf h0, Buf c0, Buf wl, Buf wi, Buf b, Out ys, Out hT, Out cT) {
  return guarded([&] {
    forward(pool, kLstm, xs, h0, &c0, wl, wi, b, ys->untyped_data(), hT->untyped_data(), cT->untyped_data(),
            nullptr);
  });
}
ffi::Error LstmTrain(Pool pool, Buf xs, Buf h0, Buf c0, Buf wl, Buf wi, Buf b, Out ys, Out hT, Out cT, Out ws) {
  return guarded([&] {
    forward(pool, kLstm, xs, h0, &c0, wl, wi, b, ys->untyped_data(), hT->untyped_data(), cT->untyped_data(),
            ws->untyped_data());
  });
}
ffi::Error LstmBackward(Pool pool, Buf xs, Buf h0, Buf c0, Buf wl, Buf wi, Buf b, Buf ys, Buf hT, Buf cT, Buf ws,
                        Buf dys, Buf dhT, Buf dcT, Out dxs, Out dh0, Out dc0, Out dwl, Out dwi, Out db) {
  return guarded([&] {
    Grads g{dxs->untyped_data(), dh0->untyped_data(), dc0->untyped_data(),
            dwl->untyped_data(), dwi->untyped_data(), db->untyped_data()};
    backward(pool, kLstm, xs, h0, &c0, wl, wi, b, ys, hT, &cT, ws, dys, dhT, &dcT, g);
  });
}
ffi::Error GruInfer(Pool pool, Buf xs, Buf h0, Buf wl, Buf wi, Buf b, Out ys, Out hT) {
  return guarded([&] {
    forward(pool, kGru, xs, h0, nullptr, wl, wi, b, ys->untyped_data(), hT->untyped_data(), nullptr, nullptr);
  });
}
ffi::Error GruTrain(Pool pool, Buf xs, Buf h0, Buf wl, Buf wi, Buf b, Out ys, Out hT, Out ws) {
  return guarded([&] {
    forward(pool, kGru, xs, h0, nullptr, wl, wi, b, ys->untyped_data(), hT->untyped_data(), nullptr,
            ws->untyped_data());
  });
}
ffi::Error GruBackward(Pool pool, Buf xs, Buf h0, Buf wl, Buf wi, Buf b, Buf ys, Buf hT, Buf ws, Buf dys,
                       Buf dhT, Out dxs, Out dh0, Out dwl, Out dwi, Out db) {
  return guarded([&] {
    Grads g{dxs->untyped_data(), dh0->untyped_data(), nullptr,
            dwl->untyped_data(), dwi->untyped_data(), db->untyped_data()};
    backward(pool, kGru, xs, h0, nullptr, wl, wi, b, ys, hT, nullptr, ws, dys, dhT, nullptr, g);
  });
}

std::string last_error;

}  // namespace

#define ARGS_5 .Arg<Buf>().Arg<Buf>().Arg<Buf>().Arg<Buf>().Arg<Buf>()
#define ARGS_6 ARGS_5.Arg<Buf>()
#define RETS_2 .Ret<Buf>().Ret<Buf>()
#define RETS_3 RETS_2.Ret<Buf>()

XLA_FFI_DEFINE_HANDLER_SYMBOL(fnnet_lstm_infer, LstmInfer, ffi::Ffi::Bind().Ctx<Pool>() ARGS_6 RETS_3);
XLA_FFI_DEFINE_HANDLER_SYMBOL(fnnet_lstm_train, LstmTrain, ffi::Ffi::Bind().Ctx<Pool>() ARGS_6 RETS_3.Ret<Buf>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(fnnet_lstm_backward, LstmBackward,
                              ffi::Ffi::Bind().Ctx<Pool>() ARGS_6 ARGS_6.Arg<Buf>() RETS_3 RETS_3);
XLA_FFI_DEFINE_HANDLER_SYMBOL(fnnet_gru_infer, GruInfer, ffi::Ffi::Bind().Ctx<Pool>() ARGS_5 RETS_2);
XLA_FFI_DEFINE_HANDLER_SYMBOL(fnnet_gru_train, GruTrain, ffi::Ffi::Bind().Ctx<Pool>() ARGS_5 RETS_3);
XLA_FFI_DEFINE_HANDLER_SYMBOL(fnnet_gru_backward, GruBackward,
                              ffi::Ffi::Bind().Ctx<Pool>() ARGS_5 ARGS_5 RETS_3.Ret<Buf>().Ret<Buf>());

// One chunk's training workspace, in bytes, or -1 (then fnnet_onednn_error says why).
// dtypes are dnnl_data_type_t values for the data, the LSTM's c state and the bias.
extern "C" int64_t fnnet_onednn_workspace_bytes(int cell, int64_t T, int64_t n, int64_t F, int64_t H, int dt,
                                                int dtc, int dtb) {
  try {
    return int64_t(get(Key{cell, T, n, F, H, dt, dtc, dtb})->fwd_pd.workspace_desc().get_size());
  } catch (const std::exception& e) {
    last_error = e.what();
    return -1;
  }
}

extern "C" const char* fnnet_onednn_error() { return last_error.c_str(); }

extern "C" const char* fnnet_onednn_version() {
  static std::string v = [] {
    auto* d = dnnl_version();
    return std::to_string(d->major) + "." + std::to_string(d->minor) + "." + std::to_string(d->patch) +
           " (" + d->hash + ", cpu runtime " + std::to_string(d->cpu_runtime) + ")";
  }();
  return v.c_str();
}
