// fnnet's oneDNN RNN kernels: one direction of one LSTM or linear-before-reset GRU layer, as XLA FFI
// custom calls (forward inference, forward training with oneDNN's workspace, backward).
//
// The batch comes split into S equal chunks, each a contiguous, time-major block; the chunks run at
// once on the extension's helper threads, each through a single-threaded oneDNN primitive. (oneDNN's own
// OpenMP threads, one parallel region per time step, ran 2-3x slower inside an XLA process than alone
// on this 2-core machine; independent chunks need no barrier per step.) Layouts, row-major:
//   xs [S, T, n, F] (tnc per chunk)   h0/c0/hT/cT [S, n, H]   ys [S, T, n, H]   ticket [] uint32
//   w_layer [F, G, H], w_iter [H, G, H] (ldigo), bias [Gb, H] (ldgo), and their gradients alike
//   (chunk 0's straight into the outputs, the others' into buffers added to them after the chunks:
//   oneDNN accumulates into a weight gradient, so the chunks cannot share one).
// Data and weights are float32 or bfloat16 (the bias and the LSTM's c state float32); every gradient,
// taken or given, is float32, as oneDNN's bfloat16 backward requires.
// Gate order is oneDNN's: LSTM i, f, g, o; GRU u (PyTorch's z), r, n, then the GRU's extra bias
// (the one inside the reset product); fnnet/layers/_onednn/ops.py maps fnnet's parameters to these.
// oneDNN may want the weights in its own blocked format: they are reordered once per call, shared
// read-only by the chunks, and the weight gradients are reordered back.
// The training forward's workspace (about 5x the gates of every step) is kept here, not in XLA's
// buffers, and handed to the backward by a ticket (see Workspaces): XLA allocates a step's
// temporaries afresh each step, and above glibc's 32 MB mmap ceiling that meant page-faulting the
// whole workspace in every step.

#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
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

// A 64-byte aligned byte buffer that only grows (dropping its contents when it does).
struct Buffer {
  std::vector<char> bytes;
  void* get(size_t n) {
    if (bytes.size() < n + 64) std::vector<char>(n + 64).swap(bytes);
    auto p = reinterpret_cast<uintptr_t>(bytes.data());
    return reinterpret_cast<void*>((p + 63) & ~uintptr_t(63));
  }
};

// Training workspaces between a forward and its backward. The forward leases a buffer under a new
// ticket (its only workspace output to XLA); the backward takes it back by that ticket. A ticket
// that is gone (its backward ran already, e.g. a jax.vjp pullback called twice, or it was pushed
// out) makes the backward recompute the workspace with the training forward, so gradients never
// depend on this cache. Freed buffers are reused, so their pages stay mapped across steps.
class Workspaces {
 public:
  static constexpr size_t kMaxLive = 64;  // leased and not taken back; older ones are pushed out

  std::pair<uint32_t, Buffer*> lease(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::unique_ptr<Buffer> buf = reuse(bytes);
    Buffer* raw = buf.get();
    uint32_t ticket = next_++;
    live_.emplace_back(ticket, std::move(buf));
    while (live_.size() > kMaxLive) {
      release(std::move(live_.front().second));
      live_.pop_front();
    }
    return {ticket, raw};
  }

  // The buffer leased under `ticket`, or null when it is gone.
  std::unique_ptr<Buffer> take(uint32_t ticket) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = live_.begin(); it != live_.end(); ++it) {
      if (it->first != ticket) continue;
      auto buf = std::move(it->second);
      live_.erase(it);
      return buf;
    }
    return nullptr;
  }

  // A buffer of at least `bytes` for a recomputed workspace; hand it back with release().
  std::unique_ptr<Buffer> scratch(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    return reuse(bytes);
  }

  void give_back(std::unique_ptr<Buffer> buf) {
    std::lock_guard<std::mutex> lock(mutex_);
    release(std::move(buf));
  }

 private:
  // The smallest free buffer that holds `bytes`, else the largest one grown, else a new one.
  std::unique_ptr<Buffer> reuse(size_t bytes) {
    auto size = [](const std::unique_ptr<Buffer>& b) { return b->bytes.size(); };
    auto smaller = [&](const auto& a, const auto& b) { return size(a) < size(b); };
    auto best = std::max_element(free_.begin(), free_.end(), smaller);
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (size(*it) >= bytes + 64 && size(*it) < size(*best)) best = it;
    }
    std::unique_ptr<Buffer> buf = std::make_unique<Buffer>();
    if (best != free_.end()) {
      buf = std::move(*best);
      free_.erase(best);
    }
    buf->get(bytes);
    return buf;
  }

  void release(std::unique_ptr<Buffer> buf) {
    free_.push_back(std::move(buf));
    if (free_.size() > kMaxLive) free_.erase(free_.begin());
  }

  std::mutex mutex_;
  uint32_t next_ = 0;
  std::deque<std::pair<uint32_t, std::unique_ptr<Buffer>>> live_;
  std::vector<std::unique_ptr<Buffer>> free_;
};

Workspaces& workspaces() {
  static Workspaces* w = new Workspaces;  // never destroyed: a backward may run during exit
  return *w;
}

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
  memory::desc dx, dh, dwl, dwi, dy;   // their gradients', always float32 (oneDNN's bfloat16 rule)
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
  // The backward of a bfloat16 RNN takes and gives every gradient in float32.
  const auto f32 = memory::data_type::f32;
  p->dx = memory::desc({T, N, F}, f32, tag::tnc);
  p->dy = memory::desc({T, N, H}, f32, tag::tnc);
  p->dh = memory::desc({1, 1, N, H}, f32, tag::ldnc);
  p->dwl = memory::desc({1, 1, F, G, H}, f32, tag::ldigo);
  p->dwi = memory::desc({1, 1, H, G, H}, f32, tag::ldigo);
  auto dwl_any = memory::desc({1, 1, F, G, H}, f32, tag::any);
  auto dwi_any = memory::desc({1, 1, H, G, H}, f32, tag::any);
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
        e, pk::backward, dir, p->x, p->h, p->c, wl_any, wi_any, p->b, p->y, p->h, p->c, p->dx, p->dh, p->c,
        dwl_any, dwi_any, p->b, p->dy, p->dh, p->c, fpd, attr);
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
                                                      p->y, p->h, p->dx, p->dh, dwl_any, dwi_any, p->b, p->dy,
                                                      p->dh, fpd, attr);
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
  // Built for one thread: a primitive sizes its work split by the threads OpenMP offers when it is
  // made, and one made for more ran each chunk on that many threads, over-subscribing the CPUs.
  int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  std::shared_ptr<Prims> p;
  try {
    p = build(key);
  } catch (...) {
    omp_set_num_threads(threads);
    throw;
  }
  omp_set_num_threads(threads);
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
  if ((c0 && dtc != memory::data_type::f32) || bias.element_type() != ffi::DataType::F32) {
    throw std::runtime_error("oneDNN RNN: the bias and the LSTM's c state must be float32");
  }
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

// Threads of the extension's own that help run the chunks (the CPUs this process may use, less
// the caller's). XLA's intra-op pool, tried first, often left a scheduled chunk unstarted until the
// calling thread had run it too, serialising the chunks.
class Helpers {
 public:
  Helpers() {
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
    size_ = std::max(cpus, 1) - 1;
    for (int i = 0; i < size_; ++i) std::thread([this] { loop(); }).detach();
  }
  int size() const { return size_; }
  void submit(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    ready_.notify_one();
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [&] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  int size_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
};

Helpers& helpers() {
  static Helpers* h = new Helpers;  // never destroyed: its threads live as long as the process
  return *h;
}

// Runs f(0), ..., f(S - 1) on the calling thread and the helpers, each chunk on one thread with
// oneDNN single-threaded; returns when all are done, rethrowing the first error. Chunks go to
// whichever thread asks first, so the caller finishes them alone if the helpers are busy (another
// device's call), and a helper that starts after every chunk was taken returns at once.
template <class F>
void for_each_chunk(int64_t S, F&& f) {
  struct State {
    std::atomic<int64_t> next{0}, done{0};
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
      if (st->done.fetch_add(1) + 1 == S) st->cv.notify_all();
    }
  };
  int64_t n = std::min<int64_t>(S - 1, helpers().size());
  for (int64_t k = 0; k < n; ++k) helpers().submit([st, fp = &f, run] { run(st, fp); });
  run(st, &f);
  auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);  // then sleep
  while (st->done.load() < S && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  std::unique_lock<std::mutex> lock(st->m);
  st->cv.wait(lock, [&] { return st->done.load() == S; });
  if (!st->error.empty()) throw std::runtime_error(st->error);
}

// The arguments the forward and the backward share: chunk i's sources, the weights and its outputs.
std::unordered_map<int, memory> shared_args(const Prims& p, int64_t i, ffi::AnyBuffer xs, ffi::AnyBuffer h0,
                                            const memory& wl, const memory& wi, ffi::AnyBuffer b,
                                            const void* ys, const void* hT) {
  return {
      {DNNL_ARG_SRC_LAYER, mem(p.x, xs.untyped_data(), i)},
      {DNNL_ARG_SRC_ITER, mem(p.h, h0.untyped_data(), i)},
      {DNNL_ARG_WEIGHTS_LAYER, wl},
      {DNNL_ARG_WEIGHTS_ITER, wi},
      {DNNL_ARG_BIAS, mem(p.b, b.untyped_data())},
      {DNNL_ARG_DST_LAYER, mem(p.y, ys, i)},
      {DNNL_ARG_DST_ITER, mem(p.h, hT, i)},
  };
}

// Forward; `ws` is null for inference.
void forward(int cell, ffi::AnyBuffer xs, ffi::AnyBuffer h0, const ffi::AnyBuffer* c0,
             ffi::AnyBuffer wl, ffi::AnyBuffer wi, ffi::AnyBuffer b, void* ys, void* hT, void* cT, void* ws) {
  auto [S, key] = key_of(cell, xs, h0, c0, b);
  auto p = get(key);
  auto& pd = ws ? p->fwd_pd : p->infer_pd;
  Buffer wl_buf, wi_buf;
  memory wl_m = as(pd.weights_desc(0), p->wl, wl.untyped_data(), wl_buf);
  memory wi_m = as(pd.weights_desc(1), p->wi, wi.untyped_data(), wi_buf);
  auto ws_md = pd.workspace_desc();
  for_each_chunk(S, [&](int64_t i) {
    auto args = shared_args(*p, i, xs, h0, wl_m, wi_m, b, ys, hT);
    args[DNNL_ARG_SCRATCHPAD] = scratchpad(pd);
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

// out[j] += part[j] for `bytes` of float32.
void add_to(void* out, const void* part, size_t bytes) {
  auto* o = static_cast<float*>(out);
  const auto* q = static_cast<const float*>(part);
  for (size_t j = 0, n = bytes / sizeof(float); j < n; ++j) o[j] += q[j];
}

void backward(int cell, ffi::AnyBuffer xs, ffi::AnyBuffer h0, const ffi::AnyBuffer* c0,
              ffi::AnyBuffer wl, ffi::AnyBuffer wi, ffi::AnyBuffer b, ffi::AnyBuffer ys, ffi::AnyBuffer hT,
              const ffi::AnyBuffer* cT, const void* ws, ffi::AnyBuffer dys, ffi::AnyBuffer dhT,
              const ffi::AnyBuffer* dcT, Grads g) {
  auto [S, key] = key_of(cell, xs, h0, c0, b);
  auto p = get(key);
  auto& pd = p->bwd_pd;
  Buffer wl_buf, wi_buf;
  memory wl_m = as(pd.weights_desc(0), p->wl, wl.untyped_data(), wl_buf);
  memory wi_m = as(pd.weights_desc(1), p->wi, wi.untyped_data(), wi_buf);
  auto ws_md = pd.workspace_desc();
  // Where chunk i's weight gradients go, in the user's layouts: the outputs for chunk 0, else its own
  // buffers (kept by the calling thread, which adds them to the outputs after the chunks).
  const memory::desc* user[3] = {&p->dwl, &p->dwi, &p->b};
  void* outs[3] = {g.dwl, g.dwi, g.db};
  thread_local std::vector<Buffer> callers_parts;  // the helpers reach it through `parts`
  std::vector<Buffer>& parts = callers_parts;
  if (parts.size() < size_t(3 * S)) parts.resize(3 * S);
  auto dest = [&](int64_t i, int k) { return i == 0 ? outs[k] : parts[3 * i + k].get(user[k]->get_size()); };
  for_each_chunk(S, [&](int64_t i) {
    thread_local Buffer dwl_buf, dwi_buf;
    // The gradients oneDNN accumulates into, zeroed: the chunk's destination when the layouts agree.
    auto zeroed = [](const memory::desc& want, const memory::desc& user, void* out, Buffer& buf) {
      void* data = want == user ? out : buf.get(want.get_size());
      std::memset(data, 0, want.get_size());
      return memory(want, engine(), data);
    };
    memory dwl = zeroed(pd.diff_weights_desc(0), p->dwl, dest(i, 0), dwl_buf);
    memory dwi = zeroed(pd.diff_weights_desc(1), p->dwi, dest(i, 1), dwi_buf);
    memory db = mem(p->b, dest(i, 2));
    std::memset(db.get_data_handle(), 0, p->b.get_size());
    auto args = shared_args(*p, i, xs, h0, wl_m, wi_m, b, ys.untyped_data(), hT.untyped_data());
    args.insert({
        {DNNL_ARG_WORKSPACE, mem(ws_md, ws, i)},
        {DNNL_ARG_DIFF_DST_LAYER, mem(p->dy, dys.untyped_data(), i)},
        {DNNL_ARG_DIFF_DST_ITER, mem(p->dh, dhT.untyped_data(), i)},
        {DNNL_ARG_DIFF_SRC_LAYER, mem(p->dx, g.dxs, i)},
        {DNNL_ARG_DIFF_SRC_ITER, mem(p->dh, g.dh0, i)},
        {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl},
        {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi},
        {DNNL_ARG_DIFF_BIAS, db},
        {DNNL_ARG_SCRATCHPAD, scratchpad(pd)},
    });
    if (c0) {
      args[DNNL_ARG_SRC_ITER_C] = mem(p->c, c0->untyped_data(), i);
      args[DNNL_ARG_DST_ITER_C] = mem(p->c, cT->untyped_data(), i);
      args[DNNL_ARG_DIFF_DST_ITER_C] = mem(p->c, dcT->untyped_data(), i);
      args[DNNL_ARG_DIFF_SRC_ITER_C] = mem(p->c, g.dc0, i);
    }
    p->bwd.execute(stream(), args);
    for (auto [got, k] : {std::pair{dwl, 0}, std::pair{dwi, 1}}) {
      if (got.get_desc() == *user[k]) continue;
      memory dst = mem(*user[k], dest(i, k));
      dnnl::reorder(got, dst).execute(stream(), got, dst);
    }
    stream().wait();
  });
  for (int64_t i = 1; i < S; ++i) {
    for (int k = 0; k < 3; ++k) add_to(outs[k], parts[3 * i + k].get(0), user[k]->get_size());
  }
}

// All S chunks' training workspace, in bytes.
size_t workspace_bytes(int cell, ffi::AnyBuffer xs, ffi::AnyBuffer h0, const ffi::AnyBuffer* c0,
                       ffi::AnyBuffer b) {
  auto [S, key] = key_of(cell, xs, h0, c0, b);
  return size_t(S) * get(key)->fwd_pd.workspace_desc().get_size();
}

// The training forward: its workspace leased under a new ticket, written to `ticket`.
void train(int cell, ffi::AnyBuffer xs, ffi::AnyBuffer h0, const ffi::AnyBuffer* c0,
           ffi::AnyBuffer wl, ffi::AnyBuffer wi, ffi::AnyBuffer b, void* ys, void* hT, void* cT, void* ticket) {
  size_t bytes = workspace_bytes(cell, xs, h0, c0, b);
  auto [id, buf] = workspaces().lease(bytes);
  forward(cell, xs, h0, c0, wl, wi, b, ys, hT, cT, buf->get(bytes));
  *static_cast<uint32_t*>(ticket) = id;
}

// The workspace the forward under `ticket` leased, or the same recomputed when it is gone.
std::unique_ptr<Buffer> workspace(int cell, ffi::AnyBuffer ticket, ffi::AnyBuffer xs,
                                  ffi::AnyBuffer h0, const ffi::AnyBuffer* c0, ffi::AnyBuffer wl,
                                  ffi::AnyBuffer wi, ffi::AnyBuffer b, ffi::AnyBuffer ys, ffi::AnyBuffer hT) {
  size_t bytes = workspace_bytes(cell, xs, h0, c0, b);
  auto buf = workspaces().take(*static_cast<const uint32_t*>(ticket.untyped_data()));
  if (buf && buf->bytes.size() >= bytes + 64) return buf;
  if (buf) workspaces().give_back(std::move(buf));
  buf = workspaces().scratch(bytes);
  Buffer y, h, c;  // the recomputed outputs, the same as ys and hT (cT): discarded
  forward(cell, xs, h0, c0, wl, wi, b, y.get(ys.size_bytes()), h.get(hT.size_bytes()),
          c0 ? c.get(c0->size_bytes()) : nullptr, buf->get(bytes));
  return buf;
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

ffi::Error LstmInfer(Buf xs, Buf h0, Buf c0, Buf wl, Buf wi, Buf b, Out ys, Out hT, Out cT) {
  return guarded([&] {
    forward(kLstm, xs, h0, &c0, wl, wi, b, ys->untyped_data(), hT->untyped_data(), cT->untyped_data(),
            nullptr);
  });
}
ffi::Error LstmTrain(Buf xs, Buf h0, Buf c0, Buf wl, Buf wi, Buf b, Out ys, Out hT, Out cT,
                     Out ticket) {
  return guarded([&] {
    train(kLstm, xs, h0, &c0, wl, wi, b, ys->untyped_data(), hT->untyped_data(), cT->untyped_data(),
          ticket->untyped_data());
  });
}
ffi::Error LstmBackward(Buf xs, Buf h0, Buf c0, Buf wl, Buf wi, Buf b, Buf ys, Buf hT, Buf cT,
                        Buf ticket, Buf dys, Buf dhT, Buf dcT, Out dxs, Out dh0, Out dc0, Out dwl, Out dwi,
                        Out db) {
  return guarded([&] {
    Grads g{dxs->untyped_data(), dh0->untyped_data(), dc0->untyped_data(),
            dwl->untyped_data(), dwi->untyped_data(), db->untyped_data()};
    auto ws = workspace(kLstm, ticket, xs, h0, &c0, wl, wi, b, ys, hT);
    backward(kLstm, xs, h0, &c0, wl, wi, b, ys, hT, &cT, ws->get(0), dys, dhT, &dcT, g);
    workspaces().give_back(std::move(ws));
  });
}
ffi::Error GruInfer(Buf xs, Buf h0, Buf wl, Buf wi, Buf b, Out ys, Out hT) {
  return guarded([&] {
    forward(kGru, xs, h0, nullptr, wl, wi, b, ys->untyped_data(), hT->untyped_data(), nullptr, nullptr);
  });
}
ffi::Error GruTrain(Buf xs, Buf h0, Buf wl, Buf wi, Buf b, Out ys, Out hT, Out ticket) {
  return guarded([&] {
    train(kGru, xs, h0, nullptr, wl, wi, b, ys->untyped_data(), hT->untyped_data(), nullptr,
          ticket->untyped_data());
  });
}
ffi::Error GruBackward(Buf xs, Buf h0, Buf wl, Buf wi, Buf b, Buf ys, Buf hT, Buf ticket, Buf dys,
                       Buf dhT, Out dxs, Out dh0, Out dwl, Out dwi, Out db) {
  return guarded([&] {
    Grads g{dxs->untyped_data(), dh0->untyped_data(), nullptr,
            dwl->untyped_data(), dwi->untyped_data(), db->untyped_data()};
    auto ws = workspace(kGru, ticket, xs, h0, nullptr, wl, wi, b, ys, hT);
    backward(kGru, xs, h0, nullptr, wl, wi, b, ys, hT, nullptr, ws->get(0), dys, dhT, nullptr, g);
    workspaces().give_back(std::move(ws));
  });
}

std::string last_error;

}  // namespace

#define ARGS_5 .Arg<Buf>().Arg<Buf>().Arg<Buf>().Arg<Buf>().Arg<Buf>()
#define ARGS_6 ARGS_5.Arg<Buf>()
#define RETS_2 .Ret<Buf>().Ret<Buf>()
#define RETS_3 RETS_2.Ret<Buf>()

XLA_FFI_DEFINE_HANDLER_SYMBOL(fnnet_lstm_infer, LstmInfer, ffi::Ffi::Bind() ARGS_6 RETS_3);
XLA_FFI_DEFINE_HANDLER_SYMBOL(fnnet_lstm_train, LstmTrain, ffi::Ffi::Bind() ARGS_6 RETS_3.Ret<Buf>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(fnnet_lstm_backward, LstmBackward,
                              ffi::Ffi::Bind() ARGS_6 ARGS_6.Arg<Buf>() RETS_3 RETS_3);
XLA_FFI_DEFINE_HANDLER_SYMBOL(fnnet_gru_infer, GruInfer, ffi::Ffi::Bind() ARGS_5 RETS_2);
XLA_FFI_DEFINE_HANDLER_SYMBOL(fnnet_gru_train, GruTrain, ffi::Ffi::Bind() ARGS_5 RETS_3);
XLA_FFI_DEFINE_HANDLER_SYMBOL(fnnet_gru_backward, GruBackward,
                              ffi::Ffi::Bind() ARGS_5 ARGS_5 RETS_3.Ret<Buf>().Ret<Buf>());

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

// Whether this CPU has the AVX512-BF16 instructions oneDNN's bfloat16 RNN kernels are built on.
extern "C" int fnnet_onednn_has_bf16() {
  auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  auto bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
  return (isa & bf16) == bf16;
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
