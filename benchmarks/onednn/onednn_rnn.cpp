// One tanh Elman layer's training work, forward (keeping what backward needs) and backward, in
// oneDNN's f32 vanilla_rnn primitive and in elman's C++ core, timed in one process in interleaved
// rounds. Every side gets the same weights, inputs x (T, B, I) and upstream gradient dL/dH (T, B, H),
// starts from h0 = 0, and computes H (T, B, H), dL/dW_xh, dL/dW_hh, dL/db_h and dL/dX:
//   onednn        vanilla_rnn_forward (forward_training) + vanilla_rnn_backward, weights in the
//                 layouts oneDNN picks (reordered once, outside the timing), bias with one gate; an
//                 explicit zero h0, so it also returns dL/dh0 (one B x H x H product more)
//   elman layer   rnn_forward + rnn_backward (rnn_layer.hpp), the layer Model runs; plus a copy of
//                 dL/dH into its in/out buffer (rnn_backward turns it into dL/dA in place)
//   elman model   Model::loss_and_grad with output_size 1 and MSE (sum): the same layer behind a
//                 1-wide head and its loss (6 T B H more flops, about 1/(I + H) of the layer), and
//                 without dL/dX (not needed below the first layer); no clipping or update
// Gradients are zeroed before every step on every side. GFLOP/s count 6 T B (I H + H H) per step.
// The check compares oneDNN's results with elman's layer once per shape and stops on an output or
// gradient that differs by more than 1e-4 relative.
//
//   onednn_rnn [--threads N] [--rounds R] [--seconds S] [--shapes tiny,small,medium,large,ds2]
//
// --threads sets elman::set_num_threads; oneDNN's TBB runtime uses the CPUs the process may run
// on, so a one-thread run is started under `taskset -c 0` (run.sh).
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <elman/elman.hpp>
#include <oneapi/dnnl/dnnl.hpp>

namespace {

using elman::Index;
using Buf = elman::Buffer<float>;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

struct Shape {
  std::string name;
  Index I, H, B, T;
  double flops() const { return 6.0 * T * B * (I * H + H * H); }
};

// benchmarks/train_step.py's SIZES (without O), and benchdnn's deepspeech2 RNN layer (width 1760,
// input = width) at batch 16 and 50 steps.
const std::vector<Shape> all_shapes = {
    {"tiny", 8, 32, 1, 100},     {"small", 64, 128, 16, 50},    {"medium", 128, 256, 32, 100},
    {"large", 512, 1024, 64, 50}, {"ds2", 1760, 1760, 16, 50},
};

// The shared problem: weights as elman stores them (W_xh (H, I), W_hh (H, H), b_h (H)), from an
// elman model's initialization, and uniform inputs and upstream gradients.
struct Problem {
  Shape shape;
  elman::Config config;
  Buf W_xh, W_hh, b_h, x, dh;

  explicit Problem(const Shape& s) : shape(s) {
    config.input_size = s.I;
    config.hidden_size = s.H;
    config.output_size = 1;
    config.seed = 0;
    elman::Model<float> init(config);
    const auto& o = init.layout().layers[0];
    W_xh.assign(init.params() + o.W_xh, init.params() + o.W_xh + s.H * s.I);
    W_hh.assign(init.params() + o.W_hh, init.params() + o.W_hh + s.H * s.H);
    b_h.assign(init.params() + o.b_h, init.params() + o.b_h + s.H);
    elman::Rng rng(1);
    x.resize(s.T * s.B * s.I);
    dh.resize(s.T * s.B * s.H);
    for (float& v : x) v = static_cast<float>(rng.uniform(-1.0, 1.0));
    for (float& v : dh) v = static_cast<float>(rng.uniform(-1.0, 1.0));
  }
};

// What a side computed, in elman's layouts, for the correctness check.
struct Result {
  Buf h, dW_xh, dW_hh, db_h, dx;
};

class OneDnn {
 public:
  OneDnn(const Problem& p, const dnnl::engine& eng) : eng_(eng), stream_(eng) {
    const Shape& s = p.shape;
    const dnnl::memory::dims src_dims{s.T, s.B, s.I}, dst_dims{s.T, s.B, s.H};
    const dnnl::memory::dims wl_dims{1, 1, s.I, 1, s.H}, wi_dims{1, 1, s.H, 1, s.H}, bias_dims{1, 1, 1, s.H};
    const dnnl::memory::desc src_md(src_dims, dt::f32, tag::tnc), dst_md(dst_dims, dt::f32, tag::tnc);
    const dnnl::memory::desc wl_any(wl_dims, dt::f32, tag::any), wi_any(wi_dims, dt::f32, tag::any);
    const dnnl::memory::desc bias_md(bias_dims, dt::f32, tag::ldgo), none;
    const dnnl::memory::desc iter_md({1, 1, s.B, s.H}, dt::f32, tag::ldnc);
    user_wl_md_ = dnnl::memory::desc(wl_dims, dt::f32, tag::ldigo);
    user_wi_md_ = dnnl::memory::desc(wi_dims, dt::f32, tag::ldigo);

    // h0 is an explicit zero state (with a zero descriptor instead, as the API allows, this build's
    // backward returns a wrong dL/dW_hh: the check below catches it); h_n is left out.
    fwd_pd_ = dnnl::vanilla_rnn_forward::primitive_desc(
        eng_, dnnl::prop_kind::forward_training, dnnl::algorithm::eltwise_tanh,
        dnnl::rnn_direction::unidirectional_left2right, src_md, iter_md, wl_any, wi_any, bias_md, dst_md, none);
    bwd_pd_ = dnnl::vanilla_rnn_backward::primitive_desc(
        eng_, dnnl::prop_kind::backward, dnnl::algorithm::eltwise_tanh, dnnl::rnn_direction::unidirectional_left2right,
        src_md, iter_md, wl_any, wi_any, bias_md, dst_md, none, src_md, iter_md, wl_any, wi_any, bias_md, dst_md, none,
        fwd_pd_);
    fwd_ = dnnl::vanilla_rnn_forward(fwd_pd_);
    bwd_ = dnnl::vanilla_rnn_backward(bwd_pd_);

    // oneDNN's ldigo weights are elman's matrices transposed: W_xh^T (I, H), W_hh^T (H, H).
    Buf wl_t(s.I * s.H), wi_t(s.H * s.H);
    for (Index o = 0; o < s.H; ++o) {
      for (Index i = 0; i < s.I; ++i) wl_t[i * s.H + o] = p.W_xh[o * s.I + i];
      for (Index i = 0; i < s.H; ++i) wi_t[i * s.H + o] = p.W_hh[o * s.H + i];
    }
    auto user_wl = filled(user_wl_md_, wl_t.data()), user_wi = filled(user_wi_md_, wi_t.data());
    src_ = filled(src_md, p.x.data());
    bias_ = filled(bias_md, p.b_h.data());
    diff_dst_ = filled(dst_md, p.dh.data());
    dst_ = dnnl::memory(dst_md, eng_);
    diff_src_ = dnnl::memory(src_md, eng_);
    workspace_ = dnnl::memory(fwd_pd_.workspace_desc(), eng_);
    fwd_wl_ = reordered(user_wl, fwd_pd_.weights_layer_desc());
    fwd_wi_ = reordered(user_wi, fwd_pd_.weights_iter_desc());
    bwd_wl_ = reordered(user_wl, bwd_pd_.weights_layer_desc());
    bwd_wi_ = reordered(user_wi, bwd_pd_.weights_iter_desc());
    diff_wl_ = dnnl::memory(bwd_pd_.diff_weights_layer_desc(), eng_);
    diff_wi_ = dnnl::memory(bwd_pd_.diff_weights_iter_desc(), eng_);
    diff_bias_ = dnnl::memory(bwd_pd_.diff_bias_desc(), eng_);
    h0_ = dnnl::memory(iter_md, eng_);
    dh0_ = dnnl::memory(iter_md, eng_);
    std::memset(h0_.get_data_handle(), 0, iter_md.get_size());
  }

  void step() {
    for (auto* m : {&diff_wl_, &diff_wi_, &diff_bias_})
      std::memset(m->get_data_handle(), 0, m->get_desc().get_size());
    fwd_.execute(stream_, {{DNNL_ARG_SRC_LAYER, src_}, {DNNL_ARG_WEIGHTS_LAYER, fwd_wl_},
                           {DNNL_ARG_WEIGHTS_ITER, fwd_wi_}, {DNNL_ARG_BIAS, bias_},
                           {DNNL_ARG_SRC_ITER, h0_},
                           {DNNL_ARG_DST_LAYER, dst_}, {DNNL_ARG_WORKSPACE, workspace_}});
    bwd_.execute(stream_, {{DNNL_ARG_SRC_LAYER, src_}, {DNNL_ARG_WEIGHTS_LAYER, bwd_wl_},
                           {DNNL_ARG_WEIGHTS_ITER, bwd_wi_}, {DNNL_ARG_BIAS, bias_},
                           {DNNL_ARG_DST_LAYER, dst_}, {DNNL_ARG_DIFF_DST_LAYER, diff_dst_},
                           {DNNL_ARG_WORKSPACE, workspace_}, {DNNL_ARG_DIFF_SRC_LAYER, diff_src_},
                           {DNNL_ARG_DIFF_WEIGHTS_LAYER, diff_wl_}, {DNNL_ARG_DIFF_WEIGHTS_ITER, diff_wi_},
                           {DNNL_ARG_DIFF_BIAS, diff_bias_}, {DNNL_ARG_SRC_ITER, h0_},
                           {DNNL_ARG_DIFF_SRC_ITER, dh0_}});
    stream_.wait();
  }

  // The last step's outputs in elman's layouts.
  Result result(const Shape& s) {
    Result r;
    r.h = read(dst_);
    r.dx = read(diff_src_);
    r.db_h = read(diff_bias_);
    const Buf wl_t = read(reordered(diff_wl_, user_wl_md_)), wi_t = read(reordered(diff_wi_, user_wi_md_));
    r.dW_xh.resize(s.H * s.I);
    r.dW_hh.resize(s.H * s.H);
    for (Index o = 0; o < s.H; ++o) {
      for (Index i = 0; i < s.I; ++i) r.dW_xh[o * s.I + i] = wl_t[i * s.H + o];
      for (Index i = 0; i < s.H; ++i) r.dW_hh[o * s.H + i] = wi_t[i * s.H + o];
    }
    return r;
  }

  std::string implementations() const {
    return std::string(fwd_pd_.impl_info_str()) + " / " + bwd_pd_.impl_info_str();
  }

 private:
  dnnl::memory filled(const dnnl::memory::desc& md, const float* data) {
    dnnl::memory m(md, eng_);
    std::memcpy(m.get_data_handle(), data, md.get_size());
    return m;
  }
  dnnl::memory reordered(dnnl::memory from, const dnnl::memory::desc& md) {
    dnnl::memory to(md, eng_);
    dnnl::reorder(from, to).execute(stream_, from, to);
    stream_.wait();
    return to;
  }
  static Buf read(const dnnl::memory& m) {
    const float* p = static_cast<const float*>(m.get_data_handle());
    return Buf(p, p + m.get_desc().get_size() / sizeof(float));
  }

  dnnl::engine eng_;
  dnnl::stream stream_;
  dnnl::vanilla_rnn_forward::primitive_desc fwd_pd_;
  dnnl::vanilla_rnn_backward::primitive_desc bwd_pd_;
  dnnl::vanilla_rnn_forward fwd_;
  dnnl::vanilla_rnn_backward bwd_;
  dnnl::memory::desc user_wl_md_, user_wi_md_;
  dnnl::memory src_, bias_, dst_, workspace_, diff_dst_, diff_src_;
  dnnl::memory h0_, dh0_, fwd_wl_, fwd_wi_, bwd_wl_, bwd_wi_, diff_wl_, diff_wi_, diff_bias_;
};

// rnn_forward + rnn_backward, the first layer of Model's forward and backward passes, with dL/dX.
class ElmanLayer {
 public:
  explicit ElmanLayer(const Problem& p)
      : p_(p), out_(rows() * H()), da_(rows() * H()), dx_(rows() * I()), state_(B() * H()), dstate_(B() * H()),
        dW_xh_(H() * I()), dW_hh_(H() * H()), db_h_(H()) {}

  void step() {
    using elman::cmat;
    using elman::mat;
    const elman::LayerWeights<float> w{cmat(p_.W_xh.data(), H(), I()), cmat(p_.W_hh.data(), H(), H()),
                                       elman::ConstRowMap<float>(p_.b_h.data(), H())};
    const elman::LayerGrads<float> g{mat(dW_xh_.data(), H(), I()), mat(dW_hh_.data(), H(), H()),
                                     elman::RowMap<float>(db_h_.data(), H())};
    for (Buf* b : {&dW_xh_, &dW_hh_, &db_h_, &dx_, &state_}) std::fill(b->begin(), b->end(), 0.0f);
    elman::LayerInput<float> in;
    in.dense = p_.x.data();
    in.ld = I();
    elman::Steps s;
    s.steps = p_.shape.T;
    s.batch = B();
    elman::rnn_forward(in, w, elman::Nonlinearity::Tanh, s, false, mat(out_.data(), rows(), H()),
                       mat(state_.data(), B(), H()));
    std::copy(p_.dh.begin(), p_.dh.end(), da_.begin());
    auto dx = mat(dx_.data(), rows(), I());
    elman::rnn_backward(in, w, elman::Nonlinearity::Tanh, s, false, mat(out_.data(), rows(), H()), static_cast<const float*>(nullptr),
                        mat(da_.data(), rows(), H()), mat(dstate_.data(), B(), H()), g, &dx);
  }

  Result result() const { return Result{out_, dW_xh_, dW_hh_, db_h_, dx_}; }

 private:
  Index I() const { return p_.shape.I; }
  Index H() const { return p_.shape.H; }
  Index B() const { return p_.shape.B; }
  Index rows() const { return p_.shape.T * p_.shape.B; }

  const Problem& p_;
  Buf out_, da_, dx_, state_, dstate_, dW_xh_, dW_hh_, db_h_;
};

// Model::loss_and_grad on a 1-wide head with MSE, the closest public call to a training step's
// gradient work; its layer weights are the problem's.
class ElmanModel {
 public:
  explicit ElmanModel(const Problem& p) : model_(p.config), target_(p.shape.T * p.shape.B, 0.5f) {
    const auto& o = model_.layout().layers[0];
    std::copy(p.W_xh.begin(), p.W_xh.end(), model_.params() + o.W_xh);
    std::copy(p.W_hh.begin(), p.W_hh.end(), model_.params() + o.W_hh);
    std::copy(p.b_h.begin(), p.b_h.end(), model_.params() + o.b_h);
    batch_.steps.steps = p.shape.T;
    batch_.steps.batch = p.shape.B;
    batch_.x = p.x.data();
    target_desc_.values = target_.data();
  }

  void step() { model_.loss_and_grad(batch_, target_desc_, elman::Loss::MSE, elman::Reduction::Sum, nullptr); }

 private:
  elman::Model<float> model_;
  Buf target_;
  elman::Batch<float> batch_;
  elman::Target<float> target_desc_;
};

// max |a - b| / max |b|: the error relative to the reference's scale.
double relative_error(const Buf& a, const Buf& b) {
  double diff = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(b[i])));
  }
  return a.size() == b.size() ? diff / std::max(scale, 1e-30) : INFINITY;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The median time of one step in ms: two warm-up steps, then steps for about `seconds` (at least 5).
double time_steps(const std::function<void()>& step, double seconds) {
  using clock = std::chrono::steady_clock;
  step();
  step();
  std::vector<double> times;
  const auto start = clock::now();
  while (times.size() < 5 || std::chrono::duration<double>(clock::now() - start).count() < seconds) {
    const auto t0 = clock::now();
    step();
    times.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
  }
  return median(times);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) parts.push_back(part);
  return parts;
}

struct Bench {
  std::unique_ptr<Problem> problem;
  std::unique_ptr<OneDnn> onednn;
  std::unique_ptr<ElmanLayer> layer;
  std::unique_ptr<ElmanModel> model;
  std::vector<double> ms[3];  // per round: onednn, elman layer, elman model
};

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, rounds = 5;
  double seconds = 0.5;
  std::string shape_names = "tiny,small,medium,large,ds2";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--threads") threads = std::atoi(argv[i + 1]);
    else if (arg == "--rounds") rounds = std::atoi(argv[i + 1]);
    else if (arg == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (arg == "--shapes") shape_names = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown argument %s; expected --threads, --rounds, --seconds or --shapes\n", argv[i]);
      return 2;
    }
  }
  elman::set_num_threads(threads);
  cpu_set_t cpus;
  sched_getaffinity(0, sizeof cpus, &cpus);
  const dnnl::version_t* v = dnnl_version();
  std::printf("oneDNN %d.%d.%d (%s), elman %s; elman threads %d, CPUs this process may use %d (oneDNN's TBB uses them)\n",
              v->major, v->minor, v->patch, v->hash, elman::version, elman::get_num_threads(), CPU_COUNT(&cpus));

  const dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  std::vector<Bench> benches;
  for (const std::string& name : split(shape_names)) {
    auto found = std::find_if(all_shapes.begin(), all_shapes.end(), [&](const Shape& s) { return s.name == name; });
    if (found == all_shapes.end()) {
      std::fprintf(stderr, "unknown shape %s; expected tiny, small, medium, large or ds2\n", name.c_str());
      return 2;
    }
    Bench b;
    b.problem = std::make_unique<Problem>(*found);
    b.onednn = std::make_unique<OneDnn>(*b.problem, eng);
    b.layer = std::make_unique<ElmanLayer>(*b.problem);
    b.model = std::make_unique<ElmanModel>(*b.problem);
    // Correctness, once: the same computation on both sides.
    b.onednn->step();
    b.layer->step();
    const Result d = b.onednn->result(*found), e = b.layer->result();
    const double errors[5] = {relative_error(d.h, e.h), relative_error(d.dW_xh, e.dW_xh),
                              relative_error(d.dW_hh, e.dW_hh), relative_error(d.db_h, e.db_h),
                              relative_error(d.dx, e.dx)};
    const bool same = *std::max_element(errors, errors + 5) <= 1e-4;
    std::printf("%-6s check (oneDNN vs elman, max|diff|/max|elman|): H %.1e  dW_xh %.1e  dW_hh %.1e  db_h %.1e  "
                "dX %.1e  %s; oneDNN kernels %s\n",
                found->name.c_str(), errors[0], errors[1], errors[2], errors[3], errors[4], same ? "ok" : "DIFFERENT",
                b.onednn->implementations().c_str());
    if (!same) return 1;
    benches.push_back(std::move(b));
  }

  // Rounds interleave every shape and side; the side that goes first alternates.
  for (int r = 0; r < rounds; ++r) {
    for (Bench& b : benches) {
      const std::function<void()> steps[3] = {[&] { b.onednn->step(); }, [&] { b.layer->step(); },
                                              [&] { b.model->step(); }};
      for (int k = 0; k < 3; ++k) {
        const int side = r % 2 ? 2 - k : k;
        b.ms[side].push_back(time_steps(steps[side], seconds));
      }
    }
  }

  std::printf("\nms per step: median over %d interleaved rounds of each round's median (spread: min-max of the "
              "rounds); GFLOP/s at 6 T B (I H + H H)\n",
              rounds);
  std::printf("%-6s %5s %5s %3s %4s | %-19s %-19s %-19s | %7s | %7s %7s %7s | %s\n", "shape", "I", "H", "B", "T",
              "oneDNN ms", "elman layer ms", "elman model ms", "GFLOP", "oneDNN", "layer", "model",
              "oneDNN/elman (layer, model)");
  for (const Bench& b : benches) {
    const Shape& s = b.problem->shape;
    double med[3];
    char cell[3][32];
    for (int k = 0; k < 3; ++k) {
      med[k] = median(b.ms[k]);
      const auto [lo, hi] = std::minmax_element(b.ms[k].begin(), b.ms[k].end());
      std::snprintf(cell[k], sizeof cell[k], "%.3f (%.3f-%.3f)", med[k], *lo, *hi);
    }
    std::printf("%-6s %5lld %5lld %3lld %4lld | %-19s %-19s %-19s | %7.3f | %7.1f %7.1f %7.1f | %.2fx, %.2fx\n",
                s.name.c_str(), (long long)s.I, (long long)s.H, (long long)s.B, (long long)s.T, cell[0], cell[1],
                cell[2], s.flops() * 1e-9, s.flops() / med[0] * 1e-6, s.flops() / med[1] * 1e-6,
                s.flops() / med[2] * 1e-6, med[0] / med[1], med[0] / med[2]);
  }
  return 0;
}
