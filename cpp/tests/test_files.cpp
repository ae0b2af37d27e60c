// Model files in C++: CRC-32C against published values and the table against the instruction; a save
// and load round trip; and the loader fed damaged files (every truncation, every single-bit flip, lying
// headers), each of which must be a std::runtime_error naming the file, never a crash, another
// exception or a silent load. .ci/sanitizers.sh runs this under ASan and UBSan.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <elman/elman.hpp>

#include "check.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using Bytes = std::vector<unsigned char>;

static Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

static void write_bytes(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

// A file's header JSON and its tensor data, to rebuild the file with a changed header.
struct Parts {
  json header;
  Bytes data;
};

static Parts split(const Bytes& file) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | file[std::size_t(i)];
  return {json::parse(file.begin() + 8, file.begin() + 8 + std::ptrdiff_t(n)), Bytes(file.begin() + 8 + std::ptrdiff_t(n), file.end())};
}

static Bytes join(const std::string& header, const Bytes& data, std::uint64_t claimed_length = UINT64_MAX) {
  const std::uint64_t n = claimed_length == UINT64_MAX ? header.size() : claimed_length;
  Bytes out(8 + header.size() + data.size());
  for (int i = 0; i < 8; ++i) out[std::size_t(i)] = static_cast<unsigned char>(n >> (8 * i));
  std::copy(header.begin(), header.end(), out.begin() + 8);
  std::copy(data.begin(), data.end(), out.begin() + 8 + std::ptrdiff_t(header.size()));
  return out;
}

// Loads `path` expecting a runtime_error whose message names the file and contains `part`; returns
// whether it failed as it should.
static bool load_fails(const std::string& path, const std::string& part, std::string* message = nullptr) {
  try {
    elman::load_model<float>(path);
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    if (message) *message = what;
    return what.find(path) != std::string::npos && what.find(part) != std::string::npos;
  } catch (const std::exception& e) {
    if (message) *message = std::string("another exception: ") + e.what();
    return false;
  }
  if (message) *message = "loaded";
  return false;
}

static void test_crc32c() {
  const std::string digits = "123456789";
  CHECK(elman::crc32c(digits.data(), digits.size()) == 0xE3069283u);  // the standard check value
  const Bytes zeros(32, 0), ones(32, 0xFF);  // RFC 3720, B.4
  CHECK(elman::crc32c(zeros.data(), 32) == 0x8A9136AAu);
  CHECK(elman::crc32c(ones.data(), 32) == 0x62A8AB43u);
  CHECK(elman::crc32c(nullptr, 0) == 0u);
  std::mt19937 gen(3);
  Bytes buf(300);
  for (auto& b : buf) b = static_cast<unsigned char>(gen());
  for (std::size_t start = 0; start < 9; ++start)
    for (std::size_t n = 0; start + n <= buf.size(); n += 7) {
      const std::uint32_t whole = elman::crc32c(buf.data() + start, n);
      CHECK(~elman::detail::crc32c_table(~0u, buf.data() + start, n) == whole);
      const std::size_t cut = n / 3;
      CHECK(elman::crc32c(buf.data() + start + cut, n - cut, elman::crc32c(buf.data() + start, cut)) == whole);
    }
}

static elman::Model<float> small_model() {
  elman::Config c;
  c.input_size = 2;
  c.hidden_size = 3;
  c.output_size = 2;
  c.num_layers = 2;
  c.seed = 11;
  elman::Model<float> m(c);
  std::mt19937 gen(5);
  std::normal_distribution<float> normal;
  for (elman::Index i = 0; i < m.num_params(); ++i) m.params()[i] = normal(gen);
  return m;
}

static void test_round_trip(const std::string& dir) {
  const elman::Model<float> m = small_model();
  const std::string path = dir + "/model.safetensors";
  elman::save_model(m, path, {{"vocabulary", "ab\xc3\xa9"}, {"note", ""}});
  elman::Metadata user;
  elman::Model<float> back = elman::load_model<float>(path, &user);
  CHECK(back.num_params() == m.num_params());
  CHECK(std::equal(m.params(), m.params() + m.num_params(), back.params()));
  CHECK((user == elman::Metadata{{"vocabulary", "ab\xc3\xa9"}, {"note", ""}}));
  CHECK(back.config().num_layers == 2 && back.config().seed == 11);
  const elman::Metadata all = elman::load_metadata(path);
  CHECK(all.at("elman.format") == "2");
  CHECK(all.at("elman.checksum").rfind("crc32c:", 0) == 0 && all.at("elman.checksum").size() == 15);
  CHECK(json::parse(all.at("elman.config"))["dtype"] == "float32");

  // Nothing but the file is left in the folder.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) entries += e.path().filename() != "model.safetensors";
  CHECK(entries == 0);

  // Bad arguments to save_model, and a folder that does not exist.
  bool refused = false;
  try {
    elman::save_model(m, dir + "/x", {{"elman.vocab", "x"}});
  } catch (const std::invalid_argument& e) {
    refused = std::string(e.what()).find("reserves") != std::string::npos;
  }
  CHECK(refused);
  elman::Model<float> bad = small_model();
  bad.params()[4] = std::numeric_limits<float>::infinity();
  refused = false;
  try {
    elman::save_model(bad, dir + "/x");
  } catch (const std::invalid_argument& e) {
    refused = std::string(e.what()).find("non-finite") != std::string::npos;
  }
  CHECK(refused && !fs::exists(dir + "/x"));
  refused = false;
  try {
    elman::save_model(m, dir + "/no/such/folder/m.safetensors");
  } catch (const std::runtime_error& e) {
    refused = std::string(e.what()).find("no/such/folder/m.safetensors") != std::string::npos;
  }
  CHECK(refused);
}

static void test_dtypes(const std::string& dir) {
  elman::Config c;
  c.input_size = c.hidden_size = c.output_size = 2;
  elman::save_model(elman::Model<double>(c), dir + "/f64.safetensors");
  bool refused = false;
  try {
    elman::load_model<float>(dir + "/f64.safetensors");
  } catch (const std::runtime_error& e) {
    refused = std::string(e.what()).find("holds a float64 model; load it with load_model<double>") != std::string::npos;
  }
  CHECK(refused);
  const auto m = elman::load_model<double>(dir + "/f64.safetensors");
  CHECK(m.config().hidden_size == 2);
}

// Every truncation and every single-bit flip of a small file is an error.
static void test_every_damage(const std::string& dir) {
  const std::string good = dir + "/good.safetensors", path = dir + "/damaged.safetensors";
  elman::save_model(small_model(), good, {{"vocabulary", "ab"}});
  const Bytes file = read_bytes(good);
  int loaded = 0, other = 0;
  for (std::size_t n = 0; n < file.size(); ++n) {
    write_bytes(path, Bytes(file.begin(), file.begin() + std::ptrdiff_t(n)));
    std::string message;
    if (!load_fails(path, "", &message)) (message == "loaded" ? loaded : other) += 1;
  }
  CHECK_MSG(loaded == 0 && other == 0, std::to_string(loaded) + " truncations loaded, " + std::to_string(other) +
                                           " gave another exception or no file name");
  for (std::size_t bit = 0; bit < 8 * file.size(); ++bit) {
    Bytes flipped = file;
    flipped[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
    write_bytes(path, flipped);
    std::string message;
    if (!load_fails(path, "", &message)) {
      (message == "loaded" ? loaded : other) += 1;
      if (loaded + other <= 3) std::fprintf(stderr, "bit %zu: %s\n", bit, message.c_str());
    }
  }
  CHECK_MSG(loaded == 0 && other == 0, std::to_string(loaded) + " bit flips loaded, " + std::to_string(other) +
                                           " gave another exception or no file name");
}

// Headers that lie, each rebuilt around the good file's data.
static void test_lying_headers(const std::string& dir) {
  const std::string good = dir + "/good.safetensors", path = dir + "/lying.safetensors";
  elman::save_model(small_model(), good);
  const Parts parts = split(read_bytes(good));

  struct Case {
    const char* name;
    std::function<Bytes()> make;
    std::string expected;
  };
  auto edited = [&](std::function<void(json&)> edit) {
    return [&parts, edit] {
      json h = parts.header;
      edit(h);
      return join(h.dump(), parts.data);
    };
  };
  const std::vector<Case> cases = {
      {"huge header length", [&] { return join(parts.header.dump(), parts.data, UINT64_MAX - 7); },
       "its header length is 18446744073709551608 bytes"},
      {"header length past the end", [&] { return join(parts.header.dump(), parts.data, parts.header.dump().size() + parts.data.size() + 1); },
       "only"},
      {"header not an object", [&] { return join("[1, 2]", parts.data); }, "its header is not a JSON object"},
      {"header not JSON", [&] { return join("{\"a\": ", parts.data); }, "its header is not valid JSON"},
      {"offsets past the end", edited([](json& h) { h["b_y"]["data_offsets"][1] = 1u << 30; }), "outside the"},
      {"begin after end", edited([](json& h) { h["b_y"]["data_offsets"] = {8, 4}; }), "outside the"},
      {"negative offset", edited([](json& h) { h["b_y"]["data_offsets"][0] = -4; }), "expected an integer >= 0"},
      {"offset not a number", edited([](json& h) { h["b_y"]["data_offsets"][0] = "0"; }), "expected an integer >= 0"},
      {"three offsets", edited([](json& h) { h["b_y"]["data_offsets"].push_back(3); }), "expected [begin, end]"},
      {"huge shape", edited([](json& h) { h["W_hy"]["shape"] = {std::uint64_t(1) << 62, 8}; }), "more than 2**64"},
      {"shape not an array", edited([](json& h) { h["W_hy"]["shape"] = 6; }), "expected an array"},
      {"unknown dtype", edited([](json& h) { h["W_hy"]["dtype"] = "F128"; }), "which safetensors does not define"},
      {"wrong dtype", edited([](json& h) {
         h["W_hy"]["dtype"] = "F64";
         h["W_hy"]["shape"] = {1, 3};  // the same bytes: 3 doubles = 6 floats
       }),
       "tensor W_hy has dtype F64; expected F32"},
      {"wrong shape", edited([](json& h) { h["W_hy"]["shape"] = {3, 2}; }), "tensor W_hy has shape (3, 2); expected (2, 3)"},
      {"extra field", edited([](json& h) { h["b_y"]["x"] = 1; }), "expected {\"dtype\", \"shape\", \"data_offsets\"}"},
      {"overlap", edited([](json& h) { h["b_y"]["data_offsets"] = h["W_hy"]["data_offsets"]; h["b_y"]["shape"] = {6}; }),
       "overlap or leave a gap"},
      {"missing tensor", edited([](json& h) {
         h.erase("b_y");
       }),
       "its tensors end at byte"},
      {"metadata not strings", edited([](json& h) { h["__metadata__"]["n"] = 3; }), "expected a string"},
      {"newer format", edited([](json& h) { h["__metadata__"]["elman.format"] = "3"; }),
       "was written by format 3; this elman reads formats 1 to 2"},
      {"garbled format", edited([](json& h) { h["__metadata__"]["elman.format"] = "99999999999"; }),
       "expected a positive integer"},
      {"no format", edited([](json& h) { h["__metadata__"].erase("elman.format"); }), "not an elman file"},
      {"no checksum", edited([](json& h) { h["__metadata__"].erase("elman.checksum"); }), "has no \"elman.checksum\""},
      {"changed metadata", edited([](json& h) { h["__metadata__"]["vocabulary"] = "abc"; }), "is damaged"},
      {"config not JSON", edited([](json& h) { h["__metadata__"]["elman.config"] = "{"; }), "elman.config is not valid JSON"},
      {"config of no model", edited([](json& h) {
         json c = json::parse(h["__metadata__"]["elman.config"].get<std::string>());
         c["hidden_size"] = 0;
         h["__metadata__"]["elman.config"] = c.dump();
       }),
       "hidden_size is 0; expected an integer >= 1"},
      {"config with a string size", edited([](json& h) {
         json c = json::parse(h["__metadata__"]["elman.config"].get<std::string>());
         c["num_layers"] = "2";
         h["__metadata__"]["elman.config"] = c.dump();
       }),
       "num_layers is \"2\"; expected an integer >= 1"},
      {"config with an unknown key", edited([](json& h) {
         json c = json::parse(h["__metadata__"]["elman.config"].get<std::string>());
         c["gates"] = 4;
         h["__metadata__"]["elman.config"] = c.dump();
       }),
       "unknown key \"gates\""},
      {"a checkpoint", edited([](json& h) {
         h["__metadata__"].erase("elman.config");
         h["__metadata__"]["elman.checkpoint"] = "{}";
       }),
       "is an elman checkpoint, not a model file"},
  };
  for (const Case& c : cases) {
    write_bytes(path, c.make());
    std::string message;
    CHECK_MSG(load_fails(path, c.expected, &message), std::string(c.name) + ": " + message);
  }

  // Format 1 (elman 0.1's files): no checksum, and it loads.
  json h = parts.header;
  h["__metadata__"]["elman.format"] = "1";
  h["__metadata__"].erase("elman.checksum");
  write_bytes(path, join(h.dump(), parts.data));
  std::string message;
  CHECK_MSG(!load_fails(path, "", &message) && message == "loaded", message);
}

int main() {
  const fs::path dir = fs::temp_directory_path() / ("elman_test_files_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  test_crc32c();
  fs::create_directories(dir / "round");
  test_round_trip((dir / "round").string());
  test_dtypes(dir.string());
  test_every_damage(dir.string());
  test_lying_headers(dir.string());
  fs::remove_all(dir);
  return check::report("test_files");
}
