// elman._core: converts Python values and numpy arrays into the core's types and views. This is where
// types, dtypes and shapes are checked, with messages in the caller's own layout (batch-first, one
// sequence); the core checks values and ranges. No math here. Every heavy call releases the GIL; calls
// on one model are serialized by its mutex.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
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
using Shape = std::vector<Index>;

// ------------------------------------------------------------------------------------ Python values

std::string repr_of(const py::handle& value) { return py::repr(value).cast<std::string>(); }

[[noreturn]] void wrong_type(const std::string& name, const py::handle& value, const char* expected) {
  const std::string type = py::type::handle_of(value).attr("__name__").cast<std::string>();
  throw py::type_error(name + " is " + repr_of(value) + " (" + type + "); expected " + expected);
}

bool is_bool(const py::handle& value) {
  if (PyBool_Check(value.ptr())) return true;
  static const py::handle numpy_bool = py::object(py::module_::import("numpy").attr("bool_")).release();
  return py::isinstance(value, numpy_bool);
}

// An int, numpy integer or anything with __index__; never a bool or a float.
py::object index_of(const py::handle& value, const std::string& name) {
  if (is_bool(value) || !PyIndex_Check(value.ptr())) wrong_type(name, value, "an integer");
  auto index = py::reinterpret_steal<py::object>(PyNumber_Index(value.ptr()));
  if (!index) throw py::error_already_set();
  return index;
}

Index to_index(const py::handle& value, const std::string& name) {
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(index_of(value, name).ptr(), &overflow);
  if (overflow) throw py::value_error(name + " is " + repr_of(value) + "; expected an integer below 2**63 in size");
  return static_cast<Index>(v);
}

std::uint64_t to_uint64(const py::handle& value, const std::string& name) {
  const unsigned long long v = PyLong_AsUnsignedLongLong(index_of(value, name).ptr());
  if (PyErr_Occurred()) {
    PyErr_Clear();
    throw py::value_error(name + " is " + repr_of(value) + "; expected an integer in [0, 2**64)");
  }
  return v;
}

// A real number: float, int, numpy scalar; never a bool or a str.
double to_real(const py::handle& value, const std::string& name) {
  if (PyFloat_CheckExact(value.ptr())) return PyFloat_AS_DOUBLE(value.ptr());
  if (is_bool(value) || PyUnicode_Check(value.ptr()) || PyComplex_Check(value.ptr()))
    wrong_type(name, value, "a real number");
  const double v = PyFloat_AsDouble(value.ptr());
  if (v == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    wrong_type(name, value, "a real number");
  }
  return v;
}

bool to_flag(const py::handle& value, const std::string& name) {
  if (!is_bool(value)) wrong_type(name, value, "True or False");
  return PyObject_IsTrue(value.ptr()) == 1;
}

std::string to_str(const py::handle& value, const std::string& name) {
  if (!PyUnicode_Check(value.ptr())) wrong_type(name, value, "a str");
  return value.cast<std::string>();
}

// None, or a limit the core checks (clip_value, clip_norm): the core's negative "off".
double to_limit(const py::handle& value, const char* name) {
  if (value.is_none()) return -1.0;
  const double v = to_real(value, name);
  elman::check_threshold(name, v);
  return v;
}

// The model's configuration, from the arguments of elman.RNN (dtype aside: it picks the class).
struct ModelArgs {
  elman::Config config;
  bool batch_first = false;
};

ModelArgs model_args(const py::object& input_size, const py::object& hidden_size, const py::object& output_size,
                     const py::object& num_layers, const py::object& nonlinearity, const py::object& bidirectional,
                     const py::object& dropout, const py::object& batch_first, const py::object& init,
                     const py::object& seed) {
  ModelArgs a;
  elman::Config& c = a.config;
  c.input_size = to_index(input_size, "input_size");
  c.hidden_size = to_index(hidden_size, "hidden_size");
  c.output_size = to_index(output_size, "output_size");
  c.num_layers = to_index(num_layers, "num_layers");
  c.nonlinearity = elman::parse_nonlinearity(to_str(nonlinearity, "nonlinearity"));
  c.bidirectional = to_flag(bidirectional, "bidirectional");
  c.dropout = to_real(dropout, "dropout");
  a.batch_first = to_flag(batch_first, "batch_first");
  c.init = elman::parse_init(to_str(init, "init"));
  c.seed = to_uint64(seed, "seed");
  c.validate();
  return a;
}

py::dict config_dict(const ModelArgs& a) {
  const elman::Config& c = a.config;
  py::dict d;
  d["input_size"] = c.input_size;
  d["hidden_size"] = c.hidden_size;
  d["output_size"] = c.output_size;
  d["num_layers"] = c.num_layers;
  d["nonlinearity"] = elman::name_of(c.nonlinearity);
  d["bidirectional"] = c.bidirectional;
  d["dropout"] = c.dropout;
  d["batch_first"] = a.batch_first;
  d["init"] = elman::name_of(c.init);
  d["seed"] = c.seed;
  return d;
}

// Every parameter as (name, shape, offset into the flat buffer), in buffer order.
py::list tensors(const elman::ParamLayout& layout) {
  py::list out;
  for (const auto& t : layout.tensors) {
    py::tuple shape = t.is_vector ? py::tuple(py::make_tuple(t.cols)) : py::tuple(py::make_tuple(t.rows, t.cols));
    out.append(py::make_tuple(t.name, shape, t.offset));
  }
  return out;
}

// ------------------------------------------------------------------------------------------- arrays

std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

Shape shape_of(const py::array& a) { return Shape(a.shape(), a.shape() + a.ndim()); }

// Any array-like as a numpy array of its own dtype; TypeError if it cannot be read as one.
py::array as_array(const py::handle& value, const char* name) {
  if (py::isinstance<py::array>(value)) return py::reinterpret_borrow<py::array>(value);
  py::array a = py::array::ensure(value);
  if (!a) throw py::type_error(std::string(name) + " could not be read as an array; expected numbers");
  return a;
}

char kind(const py::array& a) { return a.dtype().kind(); }
bool is_integer(const py::array& a) { return kind(a) == 'i' || kind(a) == 'u'; }
bool is_real(const py::array& a) { return is_integer(a) || kind(a) == 'f' || kind(a) == 'b'; }

[[noreturn]] void wrong_dtype(const char* name, const py::array& a, const std::string& expected) {
  throw py::type_error(std::string(name) + " has dtype " + py::str(a.dtype()).cast<std::string>() + "; expected " +
                       expected);
}

template <typename T>
CArray<T> contiguous(const py::array& a) {
  CArray<T> out = CArray<T>::ensure(a);
  if (!out) throw py::error_already_set();
  return out;
}

// The caller's layout of a batch: time-major (T, B, ...), batch-first (B, T, ...) or one sequence
// (T, ...). The core sees time-major (T, B, ...) arrays; these turn views one way and the other and
// speak of shapes the way the caller wrote them.
struct Layout {
  bool batch_first = false;
  bool unbatched = false;

  // A time-major shape (T, B, ...) as the caller writes it.
  Shape caller(Shape s) const {
    if (unbatched) s.erase(s.begin() + 1);
    else if (batch_first) std::swap(s[0], s[1]);
    return s;
  }
  py::array to_core(py::array a) const {
    if (unbatched) {
      Shape s = shape_of(a);
      s.insert(s.begin() + 1, 1);
      return a.reshape(s);
    }
    if (batch_first) return a.attr("swapaxes")(0, 1);
    return a;
  }
  py::array to_caller(py::array a) const {
    if (unbatched) return a.reshape(caller(shape_of(a)));
    if (batch_first) return a.attr("swapaxes")(0, 1);
    return a;
  }
  std::string axes(const std::string& rest) const {
    return std::string(batch_first ? "(B, T" : "(T, B") + rest + ")";
  }
};

template <typename S>
class PyModel {
 public:
  explicit PyModel(const ModelArgs& args) : model_(args.config), batch_first_(args.batch_first) {}

  elman::Model<S>& model() { return model_; }
  py::dict config() const { return config_dict({model_.config(), batch_first_}); }

  // Arrays that keep the model alive and view its buffers: the live params and grads.
  static py::array view(py::object self, bool grads) {
    auto& m = self.cast<PyModel&>().model_;
    return py::array_t<S>({m.num_params()}, {sizeof(S)}, grads ? m.grads() : m.params(), self);
  }

  // The gradients, the loss sum and the count in one live array, for an in-place all-reduce.
  static py::array reduction_view(py::object self) {
    auto& m = self.cast<PyModel&>().model_;
    return py::array_t<S>({m.reduction_size()}, {sizeof(S)}, m.reduction_buffer(), self);
  }

  // Inputs converted and checked; they own (or borrow) the memory the batch points to.
  struct Inputs {
    Layout layout;
    std::optional<CArray<S>> x;
    std::optional<Tokens> tokens;
    std::optional<CArray<S>> h0;
    std::optional<Tokens> lengths;
    elman::Batch<S> batch;
  };

  Inputs inputs(const py::object& x_in, const py::object& h0_in, const py::object& lengths_in) {
    const elman::Config& c = model_.config();
    Inputs in;
    Layout& layout = in.layout;
    layout.batch_first = batch_first_;
    const py::array x = as_array(x_in, "x");
    const bool tokens = is_integer(x);
    if (!tokens && kind(x) != 'f' && kind(x) != 'b') wrong_dtype("x", x, "real numbers or integer tokens");
    const std::string I = std::to_string(c.input_size);
    const Index batched_ndim = tokens ? 2 : 3;
    if (x.ndim() != batched_ndim && x.ndim() != batched_ndim - 1) {
      const std::string expected = tokens ? layout.axes("") + " integer tokens or (T,) for one sequence"
                                          : layout.axes(", " + I) + " or (T, " + I +
                                                ") for one sequence; integer tokens are " + layout.axes("") +
                                                " without a feature axis";
      throw py::value_error("x has shape " + shape_str(shape_of(x)) + "; expected " + expected);
    }
    layout.unbatched = x.ndim() == batched_ndim - 1;
    if (!tokens && x.shape(x.ndim() - 1) != c.input_size)
      throw py::value_error("x has shape " + shape_str(shape_of(x)) + "; expected " +
                            (layout.unbatched ? "(T, " + I + ") for one sequence" : layout.axes(", " + I)));
    const py::array core_x = layout.to_core(x);
    const Index T = core_x.shape(0), B = core_x.shape(1);
    in.batch.steps.steps = T;
    in.batch.steps.batch = B;
    if (tokens) {
      in.tokens = contiguous<std::int64_t>(core_x);
      in.batch.tokens = in.tokens->data();
    } else {
      in.x = contiguous<S>(core_x);
      in.batch.x = in.x->data();
    }
    if (!h0_in.is_none()) {
      const py::array h0 = as_array(h0_in, "h0");
      if (!is_real(h0)) wrong_dtype("h0", h0, "real numbers");
      const Index LD = c.num_layers * c.directions();  // states are (L*D, B, H) whatever the layout of x
      const Shape expected = layout.unbatched ? Shape{LD, c.hidden_size} : Shape{LD, B, c.hidden_size};
      if (shape_of(h0) != expected)
        throw py::value_error("h0 has shape " + shape_str(shape_of(h0)) + "; expected " + shape_str(expected) +
                              (layout.unbatched ? ", (L*D, H)" : ", (L*D, B, H)"));
      in.h0 = contiguous<S>(h0);
      in.batch.h0 = in.h0->data();
    }
    if (!lengths_in.is_none()) {
      py::array lengths = as_array(lengths_in, "lengths");
      if (!is_integer(lengths)) wrong_dtype("lengths", lengths, "integers");
      const bool one = layout.unbatched && (lengths.ndim() == 0 || shape_of(lengths) == Shape{1});
      if (!one && shape_of(lengths) != Shape{B})
        throw py::value_error("lengths has shape " + shape_str(shape_of(lengths)) + "; expected " +
                              (layout.unbatched ? std::string("() or (1,)") : shape_str({B})));
      in.lengths = contiguous<std::int64_t>(lengths.reshape(Shape{B}));
      in.batch.steps.lengths = in.lengths->data();
    }
    return in;
  }

  // A target converted and checked against the batch; it owns (or borrows) what the view points to.
  struct Targets {
    std::optional<CArray<S>> values;
    std::optional<Tokens> classes;
    elman::Target<S> target;
  };

  Targets targets(const py::object& target_in, elman::Loss loss, const Inputs& in) {
    const Index T = in.batch.steps.steps, B = in.batch.steps.batch, O = model_.config().output_size;
    const py::array target = as_array(target_in, "target");
    Targets out;
    const bool values = loss != elman::Loss::CrossEntropy;
    if (values && !is_real(target)) wrong_dtype("target", target, "real numbers for a loss of values");
    if (!values && !is_integer(target))
      wrong_dtype("target", target, "integer class indices for loss 'cross_entropy'");
    const Index K = elman::target_width(loss, O);
    const Shape expected = in.layout.caller(values ? Shape{T, B, K} : Shape{T, B});
    if (shape_of(target) != expected)
      throw py::value_error("target has shape " + shape_str(shape_of(target)) + "; expected " + shape_str(expected) +
                            (loss == elman::Loss::MSE            ? ", like y"
                             : loss == elman::Loss::GaussianNLL ? ", half of y's last axis (y holds means, then "
                                                                  "log-variances)"
                                                                : " class indices"));
    const py::array core_target = in.layout.to_core(target);
    if (values) {
      out.values = contiguous<S>(core_target);
      out.target.values = out.values->data();
    } else {
      out.classes = contiguous<std::int64_t>(core_target);
      out.target.classes = out.classes->data();
    }
    return out;
  }

  py::array_t<S> new_state(const elman::Batch<S>& batch) const {
    const elman::Config& c = model_.config();
    return py::array_t<S>({c.num_layers * c.directions(), batch.steps.batch, c.hidden_size});
  }

  // h_n (L*D, B, H) as the caller gets it: (L*D, H) for one sequence.
  static py::array caller_state(const Inputs& in, py::array h_n) {
    return in.layout.unbatched ? h_n.reshape({h_n.shape(0), h_n.shape(2)}) : h_n;
  }

  py::tuple forward(const py::object& x, const py::object& h0, const py::object& lengths) {
    Inputs in = inputs(x, h0, lengths);
    const elman::Config& c = model_.config();
    py::array_t<S> y({in.batch.steps.steps, in.batch.steps.batch, c.output_size});
    py::array_t<S> h_n = new_state(in.batch);
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      model_.forward(in.batch, y.mutable_data(), h_n.mutable_data());
    }
    return py::make_tuple(in.layout.to_caller(y), caller_state(in, h_n));
  }

  // Converts and checks the arguments every loss-computing call shares, then runs
  // call(batch, target, loss, reduction, h_n, flow) without the GIL and with the model's lock held;
  // with_flow adds ||dL/dh_t|| (L*D, T) as flow. Returns (loss, count, h_n[, flow]), count being what
  // "mean" divides by.
  template <typename Call>
  py::tuple with_loss(const py::object& x, const py::object& target, const py::object& loss,
                      const py::object& reduction, const py::object& h0, const py::object& lengths, bool with_flow,
                      Call call) {
    const elman::Loss kind = elman::parse_loss(to_str(loss, "loss"));
    const elman::Reduction red = elman::parse_reduction(to_str(reduction, "reduction"));
    Inputs in = inputs(x, h0, lengths);
    Targets t = targets(target, kind, in);
    py::array_t<S> h_n = new_state(in.batch);
    const elman::Config& c = model_.config();
    std::optional<py::array_t<S>> flow;
    if (with_flow) flow.emplace(Shape{c.num_layers * c.directions(), in.batch.steps.steps});
    double value;
    Index count;
    {
      S* flow_data = flow ? flow->mutable_data() : nullptr;
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      value = call(in.batch, t.target, kind, red, h_n.mutable_data(), flow_data);
      count = model_.last_loss().count;
    }
    if (flow) return py::make_tuple(value, count, caller_state(in, h_n), *flow);
    return py::make_tuple(value, count, caller_state(in, h_n));
  }

  py::tuple loss_and_grad(const py::object& x, const py::object& target, const py::object& loss,
                          const py::object& reduction, const py::object& h0, const py::object& lengths, bool flow) {
    return with_loss(x, target, loss, reduction, h0, lengths, flow, [&](auto&&... args) {
      return model_.loss_and_grad(args...);
    });
  }

  py::tuple loss(const py::object& x, const py::object& target, const py::object& loss, const py::object& reduction,
                 const py::object& h0, const py::object& lengths) {
    return with_loss(x, target, loss, reduction, h0, lengths, false,
                     [&](const auto& batch, const auto& tgt, auto kind, auto red, S* h_n, S*) {
                       return model_.loss(batch, tgt, kind, red, h_n);
                     });
  }

  py::tuple train_step(const py::object& x, const py::object& target, elman::Optimizer<S>& opt,
                       const py::object& loss, const py::object& reduction, const py::object& clip_value,
                       const py::object& clip_norm, const py::object& h0, const py::object& lengths) {
    const elman::Clip clip{to_limit(clip_value, "clip_value"), to_limit(clip_norm, "clip_norm")};
    py::tuple out = with_loss(x, target, loss, reduction, h0, lengths, false,
                              [&](const auto& batch, const auto& tgt, auto kind, auto red, S* h_n, S*) {
                                return model_.train_step(batch, tgt, kind, red, clip, opt, h_n);
                              });
    return py::make_tuple(out[0], out[2]);
  }

  // The two phases of a data-parallel train_step around the all-reduce of reduction_buffer:
  // gradient_phase returns (local loss sum, local count, h_n); reduce_phase (loss_and_grad's finish)
  // and update_phase (train_step's) return the loss over everything summed.
  py::tuple gradient_phase(const py::object& x, const py::object& target, const py::object& loss,
                           const py::object& h0, const py::object& lengths) {
    return with_loss(x, target, loss, py::str("sum"), h0, lengths, false,
                     [&](const auto& batch, const auto& tgt, auto kind, auto, S* h_n, S*) {
                       return model_.gradient_phase(batch, tgt, kind, h_n);
                     });
  }

  py::tuple reduce_phase(const py::object& reduction) {
    const elman::Reduction red = elman::parse_reduction(to_str(reduction, "reduction"));
    double value;
    Index count;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      value = model_.reduce_phase(red);
      count = model_.last_loss().count;
    }
    return py::make_tuple(value, count);
  }

  double update_phase(elman::Optimizer<S>& opt, const py::object& reduction, const py::object& clip_value,
                      const py::object& clip_norm) {
    const elman::Reduction red = elman::parse_reduction(to_str(reduction, "reduction"));
    const elman::Clip clip{to_limit(clip_value, "clip_value"), to_limit(clip_norm, "clip_norm")};
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(mutex_);
    return model_.update_phase(red, clip, opt);
  }

  // One time step: x_t (B, I) reals or (B,) tokens, or (I,) / a scalar token for one sequence; h
  // (L, B, H), (L, H) for one sequence, or None for zeros. Returns y_t (B, O) and the new state.
  py::tuple step(const py::object& x_in, const py::object& h_in) {
    const elman::Config& c = model_.config();
    const py::array x = as_array(x_in, "x_t");
    const bool tokens = is_integer(x);
    if (!tokens && kind(x) != 'f' && kind(x) != 'b') wrong_dtype("x_t", x, "real numbers or integer tokens");
    const std::string I = std::to_string(c.input_size);
    const py::ssize_t batched = tokens ? 1 : 2;
    const bool ok = (x.ndim() == batched || x.ndim() == batched - 1) && (tokens || x.shape(x.ndim() - 1) == c.input_size);
    if (!ok)
      throw py::value_error("x_t has shape " + shape_str(shape_of(x)) + "; expected " +
                            (tokens ? std::string("(B,) integer tokens or one token")
                                    : "(B, " + I + ") or (" + I + ",) for one sequence"));
    const bool one = x.ndim() == batched - 1;
    const Index B = one ? 1 : x.shape(0), L = c.num_layers * c.directions(), H = c.hidden_size;
    Inputs in;
    in.batch.steps.steps = 1;
    in.batch.steps.batch = B;
    if (tokens) {
      in.tokens = contiguous<std::int64_t>(x);
      in.batch.tokens = in.tokens->data();
    } else {
      in.x = contiguous<S>(x);
      in.batch.x = in.x->data();
    }
    if (!h_in.is_none()) {
      const py::array h = as_array(h_in, "h");
      if (!is_real(h)) wrong_dtype("h", h, "real numbers");
      const Shape expected = one ? Shape{L, H} : Shape{L, B, H};
      if (shape_of(h) != expected)
        throw py::value_error("h has shape " + shape_str(shape_of(h)) + "; expected " + shape_str(expected) +
                              (one ? ", (L, H)" : ", (L, B, H)"));
      in.h0 = contiguous<S>(h);
      in.batch.h0 = in.h0->data();
    }
    py::array_t<S> y({B, c.output_size});
    py::array_t<S> h_next({L, B, H});
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      model_.step(in.batch, y.mutable_data(), h_next.mutable_data());
    }
    if (one) return py::make_tuple(y.reshape({c.output_size}), h_next.reshape({L, H}));
    return py::make_tuple(y, h_next);
  }

  // Returns the tokens (num_samples, length) and the state that gave the last draw (L, N, H).
  py::tuple generate(const py::object& prime_in, const py::object& length, const py::object& temperature,
                     const py::object& top_k, const py::object& top_p, const py::object& num_samples,
                     const py::object& h0_in, const py::object& seed, const py::object& first_draw) {
    const elman::Config& c = model_.config();
    const py::array prime = as_array(prime_in, "prime");
    if (!is_integer(prime) && prime.size() > 0) wrong_dtype("prime", prime, "integer tokens");
    if (prime.ndim() != 1)
      throw py::value_error("prime has shape " + shape_str(shape_of(prime)) + "; expected (P,) tokens");
    elman::Sampling sampling;
    sampling.temperature = to_real(temperature, "temperature");
    if (!top_k.is_none()) sampling.top_k = to_index(top_k, "top_k");
    if (!top_p.is_none()) sampling.top_p = to_real(top_p, "top_p");
    sampling.seed = to_uint64(seed, "seed");
    sampling.first_draw = to_uint64(first_draw, "first_draw");
    const Index N = to_index(num_samples, "num_samples"), T = to_index(length, "length");
    const Index L = c.num_layers * c.directions(), H = c.hidden_size;
    std::optional<CArray<S>> h0;
    if (!h0_in.is_none()) {
      py::array h = as_array(h0_in, "h0");
      if (!is_real(h)) wrong_dtype("h0", h, "real numbers");
      if (shape_of(h) == Shape{L, H} && N >= 1)  // one state for every sample
        h0 = contiguous<S>(py::module_::import("numpy").attr("broadcast_to")(h.reshape(Shape{L, 1, H}),
                                                                            py::make_tuple(L, N, H)));
      else if (shape_of(h) == Shape{L, N, H})
        h0 = contiguous<S>(h);
      else
        throw py::value_error("h0 has shape " + shape_str(shape_of(h)) + "; expected (" + std::to_string(L) + ", " +
                              std::to_string(H) + ") or (" + std::to_string(L) + ", num_samples, " +
                              std::to_string(H) + ")");
    }
    const Tokens p = contiguous<std::int64_t>(prime);
    py::array_t<std::int64_t> out({std::max<Index>(N, 0), std::max<Index>(T, 0)});
    py::array_t<S> h_n({L, std::max<Index>(N, 0), H});
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      model_.generate(p.data(), prime.shape(0), T, N, sampling, h0 ? h0->data() : nullptr, out.mutable_data(),
                      h_n.mutable_data());
    }
    return py::make_tuple(out, h_n);
  }

  // One optimizer update of this model's parameters from a flat gradient array.
  void update(elman::Optimizer<S>& opt, const py::object& grads_in) {
    const py::array grads = as_array(grads_in, "grads");
    if (!is_real(grads)) wrong_dtype("grads", grads, "real numbers");
    if (shape_of(grads) != Shape{model_.num_params()})
      throw py::value_error("grads has shape " + shape_str(shape_of(grads)) + "; expected " +
                            shape_str({model_.num_params()}) + ", the model's flat gradient buffer");
    const CArray<S> g = contiguous<S>(grads);
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(mutex_);
    if (opt.size() != model_.num_params())
      throw std::invalid_argument("the optimizer holds " + std::to_string(opt.size()) + " parameters; expected " +
                                  std::to_string(model_.num_params()));
    opt.step(model_.params(), g.data());
  }

 private:
  elman::Model<S> model_;
  bool batch_first_;
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

elman::Rng::State to_rng_state(const py::handle& value) {
  const char* expected = "four integers in [0, 2**64) from get_rng_state()";
  if (!py::isinstance<py::sequence>(value) || PyUnicode_Check(value.ptr()) || py::len(value) != 4)
    throw py::value_error("state is " + repr_of(value) + "; expected " + expected);
  elman::Rng::State s;
  for (std::size_t i = 0; i < 4; ++i) s[i] = to_uint64(py::reinterpret_borrow<py::sequence>(value)[i], "state[" + std::to_string(i) + "]");
  return s;
}

#define ELMAN_MODEL_ARGS                                                                                      \
  py::arg("input_size"), py::arg("hidden_size"), py::arg("output_size"), py::arg("num_layers") = 1,         \
      py::arg("nonlinearity") = "tanh", py::arg("bidirectional") = false, py::arg("dropout") = 0.0,          \
      py::arg("batch_first") = false, py::arg("init") = "uniform", py::arg("seed") = 0

template <typename S>
void bind_model(py::module_& m, const char* name) {
  using M = PyModel<S>;
  py::class_<M>(m, name)
      .def(py::init([](const py::object& input_size, const py::object& hidden_size, const py::object& output_size,
                       const py::object& num_layers, const py::object& nonlinearity, const py::object& bidirectional,
                       const py::object& dropout, const py::object& batch_first, const py::object& init,
                       const py::object& seed) {
             return new M(model_args(input_size, hidden_size, output_size, num_layers, nonlinearity, bidirectional,
                                     dropout, batch_first, init, seed));
           }),
           py::kw_only(), ELMAN_MODEL_ARGS)
      .def_property_readonly("config", &M::config)
      .def_property_readonly("params", [](py::object self) { return M::view(self, false); })
      .def_property_readonly("grads", [](py::object self) { return M::view(self, true); })
      .def_property_readonly("tensors", [](M& self) { return tensors(self.model().layout()); })
      .def_property(
          "dropout_rng_state", [](M& self) { return self.model().dropout_rng().state(); },
          [](M& self, const py::object& state) { self.model().dropout_rng().set_state(to_rng_state(state)); })
      .def("forward", &M::forward, py::arg("x"), py::arg("h0") = py::none(), py::arg("lengths") = py::none())
      .def("loss_and_grad", &M::loss_and_grad, py::arg("x"), py::arg("target"), py::arg("loss"),
           py::arg("reduction"), py::arg("h0") = py::none(), py::arg("lengths") = py::none(),
           py::arg("flow") = false)
      .def("loss", &M::loss, py::arg("x"), py::arg("target"), py::arg("loss"), py::arg("reduction"),
           py::arg("h0") = py::none(), py::arg("lengths") = py::none())
      .def("train_step", &M::train_step, py::arg("x"), py::arg("target"), py::arg("opt"), py::arg("loss"),
           py::arg("reduction"), py::arg("clip_value") = py::none(), py::arg("clip_norm") = py::none(),
           py::arg("h0") = py::none(), py::arg("lengths") = py::none())
      .def("update", &M::update, py::arg("opt"), py::arg("grads"))
      .def_property_readonly("reduction_buffer", [](py::object self) { return M::reduction_view(self); })
      .def("gradient_phase", &M::gradient_phase, py::arg("x"), py::arg("target"), py::arg("loss"),
           py::arg("h0") = py::none(), py::arg("lengths") = py::none())
      .def("reduce_phase", &M::reduce_phase, py::arg("reduction"))
      .def("update_phase", &M::update_phase, py::arg("opt"), py::arg("reduction"), py::arg("clip_value") = py::none(),
           py::arg("clip_norm") = py::none())
      .def("step", &M::step, py::arg("x_t"), py::arg("h") = py::none())
      .def("generate", &M::generate, py::arg("prime"), py::arg("length"), py::arg("temperature"), py::arg("top_k"),
           py::arg("top_p"), py::arg("num_samples"), py::arg("h0"), py::arg("seed"),
           py::arg("first_draw") = 0);
}

elman::OptimizerConfig optimizer_config(const py::object& kind, const py::object& lr, const py::object& momentum,
                                        const py::object& nesterov, const py::object& weight_decay,
                                        const py::object& eps, const py::object& alpha, const py::object& betas,
                                        const py::object& decoupled) {
  elman::OptimizerConfig c;
  c.kind = elman::parse_optimizer(to_str(kind, "kind"));
  c.lr = to_real(lr, "lr");
  c.momentum = to_real(momentum, "momentum");
  c.nesterov = to_flag(nesterov, "nesterov");
  c.weight_decay = to_real(weight_decay, "weight_decay");
  c.eps = to_real(eps, "eps");
  c.alpha = to_real(alpha, "alpha");
  if (!(py::isinstance<py::tuple>(betas) || py::isinstance<py::list>(betas)) || py::len(betas) != 2)
    wrong_type("betas", betas, "a pair of numbers");
  c.beta1 = to_real(betas[py::int_(0)], "betas[0]");
  c.beta2 = to_real(betas[py::int_(1)], "betas[1]");
  c.decoupled = to_flag(decoupled, "decoupled");
  return c;
}

template <typename S>
void bind_optimizer(py::module_& m, const char* name) {
  using O = elman::Optimizer<S>;
  auto view = [](py::object self, bool second) {
    O& o = self.cast<O&>();
    return py::array_t<S>({o.size()}, {sizeof(S)}, second ? o.second() : o.first(), self);
  };
  elman::OptimizerConfig d;
  py::class_<O>(m, name)
      .def(py::init([](const py::object& kind, const py::object& size, const py::object& lr,
                       const py::object& momentum, const py::object& nesterov, const py::object& weight_decay,
                       const py::object& eps, const py::object& alpha, const py::object& betas,
                       const py::object& decoupled) {
             return new O(optimizer_config(kind, lr, momentum, nesterov, weight_decay, eps, alpha, betas, decoupled),
                          to_index(size, "size"));
           }),
           py::kw_only(), py::arg("kind"), py::arg("size"), py::arg("lr"), py::arg("momentum") = d.momentum,
           py::arg("nesterov") = d.nesterov, py::arg("weight_decay") = d.weight_decay, py::arg("eps") = d.eps,
           py::arg("alpha") = d.alpha, py::arg("betas") = py::make_tuple(d.beta1, d.beta2),
           py::arg("decoupled") = d.decoupled)
      .def_property_readonly("config",
                             [](const O& o) {
                               const elman::OptimizerConfig& c = o.config();
                               py::dict out;
                               out["lr"] = c.lr;
                               out["momentum"] = c.momentum;
                               out["nesterov"] = c.nesterov;
                               out["weight_decay"] = c.weight_decay;
                               out["eps"] = c.eps;
                               out["alpha"] = c.alpha;
                               out["betas"] = py::make_tuple(c.beta1, c.beta2);
                               out["decoupled"] = c.decoupled;
                               return out;
                             })
      .def_property_readonly("first", [view](py::object self) { return view(self, false); })
      .def_property_readonly("second", [view](py::object self) { return view(self, true); })
      .def_property(
          "steps", &O::steps, [](O& o, const py::object& steps) { o.set_steps(to_index(steps, "step")); })
      .def_property(
          "lr", [](const O& o) { return o.config().lr; }, [](O& o, const py::object& lr) { o.set_lr(to_real(lr, "lr")); });
}

}  // namespace

// CMakeLists.txt builds this file as one module, _core, or with ELMAN_DISPATCH as two, _core_baseline
// and _core_avx2; ELMAN_MODULE is the name and ELMAN_KERNELS what elman.kernels reports.
PYBIND11_MODULE(ELMAN_MODULE, m) {
  m.doc() = "elman's native core: the C++/Eigen Elman RNN";
  m.attr("__version__") = elman::version;
  m.attr("kernels") = ELMAN_KERNELS;
  m.attr("ignore_index") = elman::ignore_index;
  py::register_exception<elman::NonFiniteError>(m, "NonFiniteError", PyExc_FloatingPointError);
  bind_optimizer<float>(m, "OptimizerF32");
  bind_optimizer<double>(m, "OptimizerF64");
  bind_model<float>(m, "ModelF32");
  bind_model<double>(m, "ModelF64");
  m.def(
      "layout",
      [](const py::object& input_size, const py::object& hidden_size, const py::object& output_size,
         const py::object& num_layers, const py::object& nonlinearity, const py::object& bidirectional,
         const py::object& dropout, const py::object& batch_first, const py::object& init, const py::object& seed) {
        const ModelArgs a = model_args(input_size, hidden_size, output_size, num_layers, nonlinearity, bidirectional,
                                       dropout, batch_first, init, seed);
        return py::make_tuple(config_dict(a), tensors(elman::ParamLayout(a.config)));
      },
      py::kw_only(), ELMAN_MODEL_ARGS,
      "The checked configuration and every parameter's (name, shape, offset) of a model, without building it.");
  m.def(
      "clip_grad_value",
      [](const std::vector<py::array>& grads, const py::object& threshold) {
        const double t = to_real(threshold, "threshold");
        with_spans(grads, [&](auto s) {
          py::gil_scoped_release release;
          elman::clip_grad_value(s, t);
          return 0;
        });
      },
      py::arg("grads"), py::arg("threshold"), "Clips every element into [-threshold, threshold], in place.");
  m.def(
      "clip_grad_norm",
      [](const std::vector<py::array>& grads, const py::object& max_norm) {
        const double limit = to_real(max_norm, "max_norm");
        return with_spans(grads, [&](auto s) {
          py::gil_scoped_release release;
          return elman::clip_grad_norm(s, limit);
        });
      },
      py::arg("grads"), py::arg("max_norm"),
      "Scales all arrays by min(1, max_norm / (norm + 1e-6)), in place; returns the norm.");
  m.def(
      "set_num_threads",
      [](const py::object& n) {
        const Index threads = to_index(n, "n");
        if (threads > (Index(1) << 30)) throw py::value_error("n is " + std::to_string(threads) + "; expected at most 2**30");
        elman::set_num_threads(static_cast<int>(threads));
      },
      py::arg("n"));
  m.def("get_num_threads", &elman::get_num_threads);
  m.def("threads_from_environment", &elman::detail::threads_from_environment,
        "ELMAN_NUM_THREADS, else OMP_NUM_THREADS (its first entry), or 0 when neither is set.");
}
