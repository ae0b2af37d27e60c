// The C++ half of the ctest "python_files" (python_files.py runs it): loads the model Python wrote in
// DIR, checks forward and a step loop against Python's outputs in DIR/io.safetensors, and saves the
// model to DIR/from_cpp.safetensors for Python to read back.
#include <cmath>
#include <string>
#include <vector>

#include <elman/elman.hpp>

#include "check.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: test_python_files DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  elman::Metadata user;
  elman::Model<double> m = elman::load_model<double>(dir + "/model.safetensors", &user);
  CHECK((user == elman::Metadata{{"written_by", "Python"}, {"note", "h\xc3\xa9llo"}}));

  const auto io = elman::detail::read_safetensors(dir + "/io.safetensors");
  elman::detail::verify(io);
  auto tensor = [&io](const std::string& name) {
    const auto& e = io.tensors.at(name);
    const auto* p = reinterpret_cast<const double*>(io.data(e));
    return std::vector<double>(p, p + (e.end - e.begin) / sizeof(double));
  };
  const std::vector<double> x = tensor("x"), h0 = tensor("h0"), y = tensor("y"), h_n = tensor("h_n"),
                            y_steps = tensor("y_steps");
  const auto& shape = io.tensors.at("x").shape;  // (T, B, I)
  const elman::Index T = elman::Index(shape[0]), B = elman::Index(shape[1]);
  const elman::Index O = m.config().output_size;
  auto max_diff = [](const std::vector<double>& a, const std::vector<double>& b) {
    double d = a.size() == b.size() ? 0.0 : INFINITY;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
    return d;
  };

  elman::Batch<double> batch;
  batch.steps.steps = T;
  batch.steps.batch = B;
  batch.x = x.data();
  batch.h0 = h0.data();
  std::vector<double> got_y(std::size_t(T * B * O)), got_h(h0.size());
  m.forward(batch, got_y.data(), got_h.data());
  CHECK_MSG(max_diff(got_y, y) < 1e-12, std::to_string(max_diff(got_y, y)));
  CHECK_MSG(max_diff(got_h, h_n) < 1e-12, std::to_string(max_diff(got_h, h_n)));

  // Streaming: one step at a time, the state carried by the caller, as a server would.
  std::vector<double> h = h0, y_t(std::size_t(B * O)), stepped;
  elman::Batch<double> one;
  one.steps.steps = 1;
  one.steps.batch = B;
  for (elman::Index t = 0; t < T; ++t) {
    one.x = x.data() + t * B * m.config().input_size;
    one.h0 = h.data();
    m.step(one, y_t.data(), h.data());
    stepped.insert(stepped.end(), y_t.begin(), y_t.end());
  }
  CHECK_MSG(max_diff(stepped, y_steps) < 1e-12, std::to_string(max_diff(stepped, y_steps)));
  CHECK_MSG(max_diff(h, h_n) < 1e-12, std::to_string(max_diff(h, h_n)));

  elman::save_model(m, dir + "/from_cpp.safetensors", {{"written_by", "C++"}, {"note", "h\xc3\xa9llo"}});
  return check::report("test_python_files");
}
