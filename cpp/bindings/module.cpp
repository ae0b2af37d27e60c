// elman._core: converts numpy arrays to the core's views and validates their shapes. No math here.
// Every heavy call releases the GIL; calls on one model are serialized by its mutex.
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "elman/elman.hpp"

namespace py = pybind11;
using elman::Index;

namespace {

template <typename T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;
using Tokens = CArray<std::int64_t>;

std::string shape_str(const py::array& a) {
  std::ostringstream out;
  out << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) out << (i ? ", " : "") << a.shape(i);
  out << (a.ndim() == 1 ? ",)" : ")");
  return out.str();
}

// shape's -1 entries match any size; expected() describes the shape for the message, built only on
// failure (this runs on every call).
template <typename Expected>
void expect_shape(const py::array& a, const char* name, std::initializer_list<Index> shape, Expected expected) {
  bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
  py::ssize_t i = 0;
  for (auto it = shape.begin(); ok && it != shape.end(); ++it, ++i) ok = *it < 0 || a.shape(i) == *it;
  if (!ok)
    throw py::value_error(std::string(name) + " has shape " + shape_str(a) + "; expected " + expected());
}

// The array as a C-contiguous array of T, converted if needed; TypeError if it cannot be.
template <typename T>
CArray<T> convert(const py::handle& value, const char* name) {
  auto a = CArray<T>::ensure(value);
  if (!a) {
    PyErr_Clear();
    throw py::type_error(std::string(name) + " could not be converted to an array of " +
                         py::str(py::dtype::of<T>()).cast<std::string>());
  }
  return a;
}

bool is_integer(const py::array& a) {
  const char kind = a.dtype().kind();
  return kind == 'i' || kind == 'u';
}

template <typename S>
class PyModel {
 public:
  explicit PyModel(const elman::Config& config) : model_(config) {}

  elman::Model<S>& model() { return model_; }
  std::mutex& mutex() { return mutex_; }

  // Arrays that keep the model alive and view its buffers: the live params and grads.
  static py::array view(py::object self, bool grads) {
    auto& m = self.cast<PyModel&>().model_;
    return py::array_t<S>({m.num_params()}, {sizeof(S)}, grads ? m.grads() : m.params(), self);
  }

  // Inputs converted and checked; they own (or borrow) the memory the batch points to.
  struct Inputs {
    std::optional<CArray<S>> x;
    std::optional<Tokens> tokens;
    std::optional<CArray<S>> h0;
    std::optional<Tokens> lengths;
    elman::Batch<S> batch;
  };

  Inputs inputs(const py::array& x, const py::object& h0, const py::object& lengths) {
    const elman::Config& c = model_.config();
    Inputs in;
    Index T, B;
    if (is_integer(x)) {
      in.tokens = convert<std::int64_t>(x, "x");
      expect_shape(*in.tokens, "x", {-1, -1}, [] { return "(T, B) integer tokens"; });
      in.batch.tokens = in.tokens->data();
      T = x.shape(0), B = x.shape(1);
    } else {
      const char kind = x.dtype().kind();
      if (kind != 'f' && kind != 'b')
        throw py::type_error("x has dtype " + py::str(x.dtype()).cast<std::string>() +
                             "; expected real numbers or integer tokens");
      in.x = convert<S>(x, "x");
      expect_shape(*in.x, "x", {-1, -1, c.input_size}, [&] { return "(T, B, " + std::to_string(c.input_size) + ")"; });
      in.batch.x = in.x->data();
      T = x.shape(0), B = x.shape(1);
    }
    in.batch.steps.steps = T;
    in.batch.steps.batch = B;
    if (!h0.is_none()) {
      in.h0 = convert<S>(h0, "h0");
      const Index layers = c.num_layers * c.directions();
      expect_shape(*in.h0, "h0", {layers, B, c.hidden_size}, [&] {
        return "(" + std::to_string(layers) + ", " + std::to_string(B) + ", " + std::to_string(c.hidden_size) + ")";
      });
      in.batch.h0 = in.h0->data();
    }
    if (!lengths.is_none()) {
      if (!py::isinstance<py::array>(lengths) || !is_integer(py::reinterpret_borrow<py::array>(lengths)))
        throw py::type_error("lengths must be an array of integers");
      in.lengths = convert<std::int64_t>(lengths, "lengths");
      expect_shape(*in.lengths, "lengths", {B}, [&] { return "(" + std::to_string(B) + ",)"; });
      in.batch.steps.lengths = in.lengths->data();
    }
    return in;
  }

  py::tuple forward(const py::array& x, const py::object& h0, const py::object& lengths) {
    Inputs in = inputs(x, h0, lengths);
    const elman::Config& c = model_.config();
    const Index T = in.batch.steps.steps, B = in.batch.steps.batch;
    py::array_t<S> y({T, B, c.output_size});
    py::array_t<S> h_n({c.num_layers * c.directions(), B, c.hidden_size});
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      model_.forward(in.batch, y.mutable_data(), h_n.mutable_data());
    }
    return py::make_tuple(y, h_n);
  }

  // A target converted and checked against the batch; it owns (or borrows) what the view points to.
  struct Targets {
    std::optional<CArray<S>> values;
    std::optional<Tokens> classes;
    elman::Target<S> target;
  };

  Targets targets(const py::array& target, elman::Loss kind, const elman::Batch<S>& batch) {
    const Index T = batch.steps.steps, B = batch.steps.batch, O = model_.config().output_size;
    Targets out;
    if (kind == elman::Loss::MSE) {
      if (!(target.dtype().kind() == 'f' || is_integer(target)))
        throw py::type_error("target has dtype " + py::str(target.dtype()).cast<std::string>() +
                             "; expected real numbers for loss 'mse'");
      out.values = convert<S>(target, "target");
      expect_shape(*out.values, "target", {T, B, O}, [&] {
        return "(" + std::to_string(T) + ", " + std::to_string(B) + ", " + std::to_string(O) + "), like y";
      });
      out.target.values = out.values->data();
    } else {
      if (!is_integer(target))
        throw py::type_error("target has dtype " + py::str(target.dtype()).cast<std::string>() +
                             "; expected integer class indices for loss 'cross_entropy'");
      out.classes = convert<std::int64_t>(target, "target");
      expect_shape(*out.classes, "target", {T, B},
                   [&] { return "(" + std::to_string(T) + ", " + std::to_string(B) + ") class indices"; });
      out.target.classes = out.classes->data();
    }
    return out;
  }

  py::array_t<S> new_state(const elman::Batch<S>& batch) const {
    const elman::Config& c = model_.config();
    return py::array_t<S>({c.num_layers * c.directions(), batch.steps.batch, c.hidden_size});
  }

  // Converts and checks the arguments every loss-computing call shares, then runs
  // call(batch, target, loss, reduction, h_n) without the GIL and with the model's lock held.
  template <typename Call>
  py::tuple with_loss(const py::array& x, const py::array& target, const std::string& loss,
                      const std::string& reduction, const py::object& h0, const py::object& lengths, Call call) {
    const elman::Loss kind = elman::parse_loss(loss);
    const elman::Reduction red = elman::parse_reduction(reduction);
    Inputs in = inputs(x, h0, lengths);
    Targets t = targets(target, kind, in.batch);
    py::array_t<S> h_n = new_state(in.batch);
    double value;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      value = call(in.batch, t.target, kind, red, h_n.mutable_data());
    }
    return py::make_tuple(value, h_n);
  }

  // (loss, h_n), and with flow=True also ||dL/dh_t|| as an (L*D, T) array.
  py::tuple loss_and_grad(const py::array& x, const py::array& target, const std::string& loss,
                          const std::string& reduction, const py::object& h0, const py::object& lengths,
                          bool flow) {
    const elman::Config& c = model_.config();
    const Index steps = x.ndim() > 0 ? x.shape(0) : 0;
    py::array_t<S> norms(flow ? std::vector<Index>{c.num_layers * c.directions(), steps} : std::vector<Index>{0});
    S* norms_data = flow ? norms.mutable_data() : nullptr;
    py::tuple out = with_loss(x, target, loss, reduction, h0, lengths, [&](auto&&... args) {
      return model_.loss_and_grad(args..., norms_data);
    });
    if (flow) return py::make_tuple(out[0], out[1], norms);
    return out;
  }

  py::tuple loss(const py::array& x, const py::array& target, const std::string& loss, const std::string& reduction,
                 const py::object& h0, const py::object& lengths) {
    return with_loss(x, target, loss, reduction, h0, lengths, [&](auto&&... args) { return model_.loss(args...); });
  }

  py::tuple train_step(const py::array& x, const py::array& target, elman::Optimizer<S>& opt,
                       const std::string& loss, const std::string& reduction, double clip_value, double clip_norm,
                       const py::object& h0, const py::object& lengths) {
    return with_loss(x, target, loss, reduction, h0, lengths, [&](auto& batch, auto& tgt, auto kind, auto red, S* h_n) {
      return model_.train_step(batch, tgt, kind, red, {clip_value, clip_norm}, opt, h_n);
    });
  }

  // One optimizer update of this model's parameters from a flat gradient array.
  void step(elman::Optimizer<S>& opt, const py::array& grads) {
    auto g = convert<S>(grads, "grads");
    if (g.ndim() != 1 || g.shape(0) != model_.num_params())
      throw py::value_error("grads must be a flat array of " + std::to_string(model_.num_params()) + " values");
    if (opt.size() != model_.num_params())
      throw py::value_error("the optimizer holds " + std::to_string(opt.size()) + " parameters; expected " +
                            std::to_string(model_.num_params()));
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(mutex_);
    opt.step(model_.params(), g.data());
  }

 private:
  elman::Model<S> model_;
  std::mutex mutex_;
};

// The gradient arrays of a clipping call: all writable, C-contiguous and of one float dtype.
template <typename S>
std::vector<elman::Span<S>> spans(std::vector<py::array> arrays) {
  std::vector<elman::Span<S>> out;
  for (py::array& a : arrays) {
    if (!(a.flags() & py::array::c_style) || !a.writeable())
      throw py::type_error("grads must be writable C-contiguous arrays");
    out.push_back({static_cast<S*>(a.mutable_data()), static_cast<Index>(a.size())});
  }
  return out;
}

// Calls fn with the spans of arrays in their common dtype.
template <typename Fn>
auto with_spans(const std::vector<py::array>& arrays, Fn fn) {
  bool f32 = true, f64 = true;
  for (const py::array& a : arrays) {
    f32 = f32 && a.dtype().is(py::dtype::of<float>());
    f64 = f64 && a.dtype().is(py::dtype::of<double>());
  }
  if (f32) return fn(spans<float>(arrays));
  if (f64) return fn(spans<double>(arrays));
  throw py::type_error("grads must all be float32 or all float64 arrays");
}

template <typename S>
void bind_model(py::module_& m, const char* name) {
  using M = PyModel<S>;
  py::class_<M>(m, name)
      .def(py::init([](Index input_size, Index hidden_size, Index output_size, Index num_layers,
                       const std::string& nonlinearity, bool bidirectional, double dropout,
                       const std::string& init, std::uint64_t seed) {
             elman::Config c;
             c.input_size = input_size;
             c.hidden_size = hidden_size;
             c.output_size = output_size;
             c.num_layers = num_layers;
             c.nonlinearity = elman::parse_nonlinearity(nonlinearity);
             c.bidirectional = bidirectional;
             c.dropout = dropout;
             c.init = elman::parse_init(init);
             c.seed = seed;
             return new M(c);
           }),
           py::arg("input_size"), py::arg("hidden_size"), py::arg("output_size"), py::arg("num_layers"),
           py::arg("nonlinearity"), py::arg("bidirectional"), py::arg("dropout"), py::arg("init"),
           py::arg("seed"))
      .def_property_readonly("params", [](py::object self) { return M::view(self, false); })
      .def_property_readonly("grads", [](py::object self) { return M::view(self, true); })
      .def_property_readonly("tensors",
                             [](M& self) {
                               py::list out;
                               for (const auto& t : self.model().layout().tensors) {
                                 py::tuple shape = t.is_vector ? py::tuple(py::make_tuple(t.cols))
                                                               : py::tuple(py::make_tuple(t.rows, t.cols));
                                 out.append(py::make_tuple(t.name, shape, t.offset));
                               }
                               return out;
                             })
      .def_property("dropout_rng_state",
                    [](M& self) { return self.model().dropout_rng().state(); },
                    [](M& self, const elman::Rng::State& s) { self.model().dropout_rng().set_state(s); })
      .def("forward", &M::forward, py::arg("x"), py::arg("h0") = py::none(), py::arg("lengths") = py::none())
      .def("loss_and_grad", &M::loss_and_grad, py::arg("x"), py::arg("target"), py::arg("loss"),
           py::arg("reduction"), py::arg("h0") = py::none(), py::arg("lengths") = py::none(),
           py::arg("flow") = false)
      .def("loss", &M::loss, py::arg("x"), py::arg("target"), py::arg("loss"), py::arg("reduction"),
           py::arg("h0") = py::none(), py::arg("lengths") = py::none())
      .def("train_step", &M::train_step, py::arg("x"), py::arg("target"), py::arg("opt"), py::arg("loss"),
           py::arg("reduction"), py::arg("clip_value"), py::arg("clip_norm"), py::arg("h0") = py::none(),
           py::arg("lengths") = py::none())
      .def("step", &M::step, py::arg("opt"), py::arg("grads"));
}

elman::OptimizerKind parse_optimizer(const std::string& name) {
  if (name == "sgd") return elman::OptimizerKind::SGD;
  if (name == "adagrad") return elman::OptimizerKind::Adagrad;
  if (name == "rmsprop") return elman::OptimizerKind::RMSprop;
  if (name == "adam") return elman::OptimizerKind::Adam;
  throw py::value_error("optimizer is '" + name + "'; expected 'sgd', 'adagrad', 'rmsprop' or 'adam'");
}

template <typename S>
void bind_optimizer(py::module_& m, const char* name) {
  using O = elman::Optimizer<S>;
  auto view = [](py::object self, bool second) {
    O& o = self.cast<O&>();
    return py::array_t<S>({o.size()}, {sizeof(S)}, second ? o.second() : o.first(), self);
  };
  py::class_<O>(m, name)
      .def(py::init([](const std::string& kind, Index size, double lr, double momentum, bool nesterov,
                       double weight_decay, double eps, double alpha, double beta1, double beta2, bool decoupled) {
             elman::OptimizerConfig c;
             c.kind = parse_optimizer(kind);
             c.lr = lr;
             c.momentum = momentum;
             c.nesterov = nesterov;
             c.weight_decay = weight_decay;
             c.eps = eps;
             c.alpha = alpha;
             c.beta1 = beta1;
             c.beta2 = beta2;
             c.decoupled = decoupled;
             return new O(c, size);
           }),
           py::arg("kind"), py::arg("size"), py::arg("lr"), py::arg("momentum"), py::arg("nesterov"),
           py::arg("weight_decay"), py::arg("eps"), py::arg("alpha"), py::arg("beta1"), py::arg("beta2"),
           py::arg("decoupled"))
      .def_property_readonly("first", [view](py::object self) { return view(self, false); })
      .def_property_readonly("second", [view](py::object self) { return view(self, true); })
      .def_property("steps", &O::steps, &O::set_steps)
      .def_property("lr", [](const O& o) { return o.config().lr; }, &O::set_lr);
}

}  // namespace

// CMakeLists.txt builds this file as one module, _core, or with ELMAN_DISPATCH as two, _core_baseline
// and _core_avx2; ELMAN_MODULE is the name and ELMAN_KERNELS what elman.kernels reports.
PYBIND11_MODULE(ELMAN_MODULE, m) {
  m.doc() = "elman's native core: the C++/Eigen Elman RNN";
  m.attr("__version__") = elman::version;
  m.attr("kernels") = ELMAN_KERNELS;
  py::register_exception<elman::NonFiniteError>(m, "NonFiniteError", PyExc_FloatingPointError);
  bind_optimizer<float>(m, "OptimizerF32");
  bind_optimizer<double>(m, "OptimizerF64");
  bind_model<float>(m, "ModelF32");
  bind_model<double>(m, "ModelF64");
  m.def("clip_grad_value", [](const std::vector<py::array>& grads, double threshold) {
    with_spans(grads, [&](auto s) {
      py::gil_scoped_release release;
      elman::clip_grad_value(s, threshold);
      return 0;
    });
  }, py::arg("grads"), py::arg("threshold"), "Clips every element into [-threshold, threshold], in place.");
  m.def("clip_grad_norm", [](const std::vector<py::array>& grads, double max_norm) {
    return with_spans(grads, [&](auto s) {
      py::gil_scoped_release release;
      return elman::clip_grad_norm(s, max_norm);
    });
  }, py::arg("grads"), py::arg("max_norm"), "Scales all arrays by min(1, max_norm / (norm + 1e-6)), in place; returns the norm.");
  m.def("set_num_threads", &elman::set_num_threads, py::arg("n"));
  m.def("get_num_threads", &elman::get_num_threads);
}
