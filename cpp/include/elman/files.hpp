// Model files, the same bytes Python's m.save writes and elman.load reads: safetensors (an 8-byte
// little-endian header length, a JSON header, then the tensors' bytes), each parameter under its name,
// and in the header's "__metadata__" the config JSON ("elman.config"), the format ("elman.format") and,
// from format 2, a checksum ("elman.checksum": "crc32c:" and 8 hex digits). The checksum is the
// CRC-32C of, in order: every other metadata entry sorted by key (key, NUL, value, NUL), then every
// tensor sorted by name (name, NUL, dtype code, NUL, dimensions joined by ",", NUL, its bytes). It is
// computed from the parsed header, so any JSON writer's spacing verifies, and any changed value, name,
// shape, offset or data byte does not. python/elman/files.py is the other implementation; the ctest
// "python_files" reads and writes files with it.
//
// Every file is untrusted input: lengths, offsets, shapes and dtypes are checked against the file's
// real size before anything is read or allocated from them, and any fault is a std::runtime_error
// that names the file (fuzzed under ASan+UBSan in cpp/tests/test_files.cpp).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "elman/config.hpp"
#include "elman/crc32c.hpp"
#include "elman/model.hpp"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "elman's files hold little-endian tensors; this loader copies them as they are"
#endif

namespace elman {

// The format's names; python/elman/files.py spells the same.
namespace file_format {
inline constexpr int version = 2;          // what save_model writes; load_* read 1 to this
inline constexpr int first_checksum = 2;   // files before this format carry no checksum
inline constexpr const char* format_key = "elman.format";
inline constexpr const char* config_key = "elman.config";
inline constexpr const char* checksum_key = "elman.checksum";
inline constexpr const char* checkpoint_key = "elman.checkpoint";
inline constexpr const char* checksum_prefix = "crc32c:";
inline constexpr const char* reserved_prefix = "elman.";
}  // namespace file_format

using Metadata = std::map<std::string, std::string>;

namespace detail {

struct TensorEntry {
  std::string dtype;                 // safetensors' code: "F32", "I64", ...
  std::vector<std::uint64_t> shape;
  std::uint64_t begin = 0, end = 0;  // byte offsets into the data region
};

// A safetensors file read whole and checked for structure: the header is a JSON object, every
// tensor's dtype is known, its offsets lie inside the data region and match its shape, and the
// tensors cover that region exactly, as the format requires.
struct SafetensorsFile {
  std::string path;
  std::vector<unsigned char> bytes;
  std::size_t data_start = 0;  // 8 + the header's length
  Metadata metadata;
  std::map<std::string, TensorEntry> tensors;

  const unsigned char* data(const TensorEntry& t) const { return bytes.data() + data_start + t.begin; }
};

[[noreturn]] inline void file_error(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

inline std::uint64_t dtype_size(const std::string& code) {
  static const std::map<std::string, std::uint64_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"I64", 8},     {"U64", 8}, {"F64", 8}};
  const auto it = sizes.find(code);
  return it == sizes.end() ? 0 : it->second;
}

template <typename S>
constexpr const char* dtype_code() {
  return sizeof(S) == 4 ? "F32" : "F64";
}
template <typename S>
constexpr const char* dtype_name() {
  return sizeof(S) == 4 ? "float32" : "float64";
}

inline std::uint64_t json_offset(const nlohmann::json& j, const std::string& path, const std::string& what) {
  if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<std::int64_t>() >= 0))
    file_error(path, what + " is " + j.dump() + "; expected an integer >= 0");
  return j.get<std::uint64_t>();
}

inline SafetensorsFile read_safetensors(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) file_error(path, "is a folder; expected a safetensors file");
  std::ifstream in(path, std::ios::binary);
  if (!in) file_error(path, fs::exists(path, ec) ? "cannot be opened for reading" : "no such file");
  SafetensorsFile f;
  f.path = path;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size < 0) file_error(path, "cannot be read");
  f.bytes.resize(static_cast<std::size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(f.bytes.data()), size)) file_error(path, "cannot be read");

  const std::string unreadable = "is not a readable safetensors file (";
  const std::string hint = "); it may be truncated or corrupted";
  if (f.bytes.size() < 8)
    file_error(path, unreadable + std::to_string(f.bytes.size()) + " bytes, fewer than the 8 of a header length" + hint);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | f.bytes[static_cast<std::size_t>(i)];
  if (n > f.bytes.size() - 8)
    file_error(path, unreadable + "its header length is " + std::to_string(n) + " bytes but only " +
                         std::to_string(f.bytes.size() - 8) + " follow" + hint);
  f.data_start = 8 + static_cast<std::size_t>(n);
  const std::uint64_t data_size = f.bytes.size() - f.data_start;

  // JSON text never holds a NUL byte, and nlohmann's parser would end the text at one, so that
  // anything after it (a damaged padding byte, say) would go unseen.
  if (std::find(f.bytes.begin() + 8, f.bytes.begin() + static_cast<std::ptrdiff_t>(f.data_start), 0) !=
      f.bytes.begin() + static_cast<std::ptrdiff_t>(f.data_start))
    file_error(path, unreadable + "its header holds a NUL byte" + hint);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(f.bytes.begin() + 8, f.bytes.begin() + static_cast<std::ptrdiff_t>(f.data_start));
  } catch (const nlohmann::json::exception& e) {
    file_error(path, unreadable + "its header is not valid JSON: " + e.what() + hint);
  }
  if (!header.is_object()) file_error(path, unreadable + "its header is not a JSON object" + hint);

  std::vector<std::pair<std::uint64_t, std::uint64_t>> spans;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) file_error(path, "__metadata__ is " + value.dump() + "; expected an object of strings");
      for (const auto& [key, text] : value.items()) {
        if (!text.is_string())
          file_error(path, "metadata[\"" + key + "\"] is " + text.dump() + "; expected a string");
        f.metadata[key] = text.get<std::string>();
      }
      continue;
    }
    const std::string what = "tensor " + name;
    if (!value.is_object() || value.size() != 3 || !value.contains("dtype") || !value.contains("shape") ||
        !value.contains("data_offsets"))
      file_error(path, what + " is " + value.dump() + "; expected {\"dtype\", \"shape\", \"data_offsets\"}");
    TensorEntry t;
    if (!value["dtype"].is_string()) file_error(path, what + " has dtype " + value["dtype"].dump());
    t.dtype = value["dtype"].get<std::string>();
    const std::uint64_t item = dtype_size(t.dtype);
    if (item == 0) file_error(path, what + " has dtype " + t.dtype + ", which safetensors does not define");
    const auto& shape = value["shape"];
    if (!shape.is_array()) file_error(path, what + " has shape " + shape.dump() + "; expected an array");
    std::uint64_t bytes = item;
    for (const auto& d : shape) {
      t.shape.push_back(json_offset(d, path, what + "'s dimension"));
      // Saturates instead of wrapping: a product past the file's size is an error below either way.
      bytes = t.shape.back() != 0 && bytes > UINT64_MAX / t.shape.back() ? UINT64_MAX : bytes * t.shape.back();
    }
    const auto& offsets = value["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2)
      file_error(path, what + " has data_offsets " + offsets.dump() + "; expected [begin, end]");
    t.begin = json_offset(offsets[0], path, what + "'s begin");
    t.end = json_offset(offsets[1], path, what + "'s end");
    if (t.begin > t.end || t.end > data_size)
      file_error(path, what + " has data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                           "], outside the " + std::to_string(data_size) + " bytes of tensor data");
    if (t.end - t.begin != bytes)
      file_error(path, what + " holds " + std::to_string(t.end - t.begin) + " bytes; its dtype and shape need " +
                           (bytes == UINT64_MAX ? std::string("more than 2**64") : std::to_string(bytes)));
    spans.emplace_back(t.begin, t.end);
    f.tensors.emplace(name, std::move(t));
  }
  std::sort(spans.begin(), spans.end());
  std::uint64_t at = 0;
  for (const auto& [begin, end] : spans) {
    if (begin != at) file_error(path, "its tensors overlap or leave a gap at byte " + std::to_string(at) + hint);
    at = end;
  }
  if (at != data_size)
    file_error(path, "its tensors end at byte " + std::to_string(at) + " of " + std::to_string(data_size) +
                         " bytes of tensor data" + hint);
  return f;
}

inline std::string checksum(const Metadata& metadata, const std::map<std::string, TensorEntry>& tensors,
                            const SafetensorsFile* file, const std::map<std::string, const void*>& data = {}) {
  std::uint32_t crc = 0;
  auto add = [&crc](const std::string& s) { crc = crc32c(s.data(), s.size() + 1, crc); };  // with its NUL
  for (const auto& [key, value] : metadata) {
    if (key == file_format::checksum_key) continue;
    add(key);
    add(value);
  }
  for (const auto& [name, t] : tensors) {
    std::string dims;
    for (std::size_t i = 0; i < t.shape.size(); ++i) dims += (i ? "," : "") + std::to_string(t.shape[i]);
    add(name);
    add(t.dtype);
    add(dims);
    const void* bytes = file ? static_cast<const void*>(file->data(t)) : data.at(name);
    crc = crc32c(bytes, static_cast<std::size_t>(t.end - t.begin), crc);
  }
  char text[9];
  std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(crc));
  return file_format::checksum_prefix + std::string(text);
}

// The file's format, after checking this version reads it; 0 if it is not an elman file.
inline int elman_format(const SafetensorsFile& f) {
  const auto it = f.metadata.find(file_format::format_key);
  if (it == f.metadata.end()) return 0;
  const std::string& text = it->second;
  const bool digits = !text.empty() && text.size() < 9 &&
                      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  const int version = digits ? std::stoi(text) : 0;
  if (version < 1)
    file_error(f.path, std::string(file_format::format_key) + " is \"" + text + "\"; expected a positive integer");
  if (version > file_format::version)
    file_error(f.path, "was written by format " + text + "; this elman reads formats 1 to " +
                           std::to_string(file_format::version) + ". Upgrade elman to read it");
  return version;
}

// Checks the checksum of an elman file of format 2 or later (earlier ones have none).
inline void verify(const SafetensorsFile& f) {
  if (elman_format(f) < file_format::first_checksum) return;
  const auto it = f.metadata.find(file_format::checksum_key);
  if (it == f.metadata.end())
    file_error(f.path, std::string("has no \"") + file_format::checksum_key +
                           "\" in its metadata; files of its format carry one");
  const std::string actual = checksum(f.metadata, f.tensors, &f);
  if (it->second != actual)
    file_error(f.path, std::string("is damaged: its ") + file_format::checksum_key + " is \"" + it->second +
                           "\" but its contents give \"" + actual + "\" (a changed byte in its tensors or metadata)");
}

// The config as Python's RNN.config writes it (batch_first is Python's layout; C++ writes false).
template <typename S>
nlohmann::json config_json(const Config& c) {
  return {{"input_size", c.input_size}, {"hidden_size", c.hidden_size},   {"output_size", c.output_size},
          {"num_layers", c.num_layers}, {"nonlinearity", name_of(c.nonlinearity)}, {"bidirectional", c.bidirectional},
          {"dropout", c.dropout},       {"batch_first", false},           {"dtype", dtype_name<S>()},
          {"init", name_of(c.init)},    {"seed", c.seed}};
}

// The Config in an "elman.config" string and its dtype ("float32" or "float64"), every value checked.
inline std::pair<Config, std::string> parse_config(const std::string& text, const std::string& path) {
  const std::string where = std::string(file_format::config_key);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    file_error(path, where + " is not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) file_error(path, where + " is " + j.dump() + "; expected a JSON object");
  Config c;
  std::string dtype;
  auto bad = [&](const std::string& key, const std::string& expected) {
    file_error(path, where + " does not describe a model (" + key + " is " + j[key].dump() + "; expected " +
                         expected + ")");
  };
  auto index = [&](const std::string& key) {
    const auto& v = j[key];
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > (std::int64_t(1) << 40))
      bad(key, "an integer >= 1");
    return static_cast<Index>(v.get<std::int64_t>());
  };
  auto text_of = [&](const std::string& key) {
    if (!j[key].is_string()) bad(key, "a string");
    return j[key].get<std::string>();
  };
  for (const auto& required : {"input_size", "hidden_size", "output_size", "dtype"})
    if (!j.contains(required))
      file_error(path, where + " does not describe a model (it has no \"" + required + "\")");
  for (const auto& [key, value] : j.items()) {
    try {
      if (key == "input_size") c.input_size = index(key);
      else if (key == "hidden_size") c.hidden_size = index(key);
      else if (key == "output_size") c.output_size = index(key);
      else if (key == "num_layers") c.num_layers = index(key);
      else if (key == "nonlinearity") c.nonlinearity = parse_nonlinearity(text_of(key));
      else if (key == "init") c.init = parse_init(text_of(key));
      else if (key == "bidirectional" || key == "batch_first") {
        if (!value.is_boolean()) bad(key, "true or false");
        if (key == "bidirectional") c.bidirectional = value.get<bool>();
      } else if (key == "dropout") {
        if (!value.is_number()) bad(key, "a number in [0, 1)");
        c.dropout = value.get<double>();
      } else if (key == "seed") {
        if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<std::int64_t>() >= 0))
          bad(key, "an integer >= 0");
        c.seed = value.get<std::uint64_t>();
      } else if (key == "dtype") {
        dtype = text_of(key);
        if (dtype != "float32" && dtype != "float64") bad(key, "\"float32\" or \"float64\"");
      } else {
        file_error(path, where + " does not describe a model (unknown key \"" + key + "\")");
      }
    } catch (const std::invalid_argument& e) {
      file_error(path, where + " does not describe a model (" + e.what() + ")");
    }
  }
  try {
    c.validate();
  } catch (const std::invalid_argument& e) {
    file_error(path, where + " does not describe a model (" + e.what() + ")");
  }
  return {c, dtype};
}

// Replaces the file at `path` with `bytes` so that no reader ever sees a partial file: a temporary
// ".<name>.<random hex>.tmp" in the same folder is written, fsynced and renamed over the target (a
// symlink's target), then the folder is fsynced. On failure the temporary file is removed and any
// old file is left as it was.
inline void atomic_write(const std::string& path, const std::vector<unsigned char>& bytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path target = fs::weakly_canonical(fs::path(path), ec);
  if (ec) target = fs::path(path);
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const auto fail = [&path](const std::string& what) {
    throw std::runtime_error(path + ": " + what + " (" + std::strerror(errno) + ")");
  };
  std::random_device device;
  std::string temp;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%08x%08x", device(), device());
    temp = (folder / ("." + target.filename().string() + "." + hex + ".tmp")).string();
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) fail("cannot create a temporary file in its folder");
  }
  if (fd < 0) fail("cannot create a unique temporary file in its folder");
  const unsigned char* p = bytes.data();
  std::size_t left = bytes.size();
  bool ok = true;
  while (ok && left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) p += n, left -= static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const int saved = errno;
  ok = (::close(fd) == 0) && ok;
  if (ok && std::rename(temp.c_str(), target.c_str()) == 0) {
    const int dir = ::open(folder.c_str(), O_RDONLY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
    return;
  }
  if (errno == 0) errno = saved;
  const int reason = errno;
  ::unlink(temp.c_str());
  errno = reason;
  fail("cannot be written");
}

}  // namespace detail

// The whole metadata of a safetensors file (elman's keys and the user's), after checking its
// structure and, for an elman file of format 2 or later, its checksum.
inline Metadata load_metadata(const std::string& path) {
  const detail::SafetensorsFile f = detail::read_safetensors(path);
  detail::verify(f);
  return f.metadata;
}

// The model in a file Python's m.save (or save_model) wrote. Throws std::runtime_error naming the
// file and what is wrong: missing, truncated, foreign, of a newer format, damaged (its checksum does
// not match), a config that is not a model, tensors that do not fit it, a dtype other than S's.
template <typename S>
Model<S> load_model(const std::string& path, Metadata* user_metadata = nullptr) {
  using detail::file_error;
  const detail::SafetensorsFile f = detail::read_safetensors(path);
  if (detail::elman_format(f) == 0) {
    std::string keys;
    for (const auto& kv : f.metadata) keys += (keys.empty() ? "\"" : ", \"") + kv.first + "\"";
    file_error(path, std::string("is a safetensors file but not an elman file: its metadata has no \"") +
                         file_format::format_key + "\" (keys: " + (keys.empty() ? "none" : keys) + ")");
  }
  const auto config_text = f.metadata.find(file_format::config_key);
  if (config_text == f.metadata.end()) {
    if (f.metadata.count(file_format::checkpoint_key))
      file_error(path, "is an elman checkpoint, not a model file");
    file_error(path, std::string("has no \"") + file_format::config_key + "\" in its metadata; expected a model file");
  }
  const auto [config, dtype] = detail::parse_config(config_text->second, path);
  if (dtype != detail::dtype_name<S>())
    file_error(path, "holds a " + dtype + " model; load it with load_model<" +
                         (dtype == "float32" ? "float" : "double") + ">");
  const ParamLayout layout(config);
  std::string expected;
  for (const auto& t : layout.tensors) expected += (expected.empty() ? "" : ", ") + t.name;
  for (const auto& t : layout.tensors) {
    const auto it = f.tensors.find(t.name);
    if (it == f.tensors.end()) file_error(path, "lacks tensor " + t.name + "; expected " + expected);
    const detail::TensorEntry& e = it->second;
    if (e.dtype != detail::dtype_code<S>())
      file_error(path, "tensor " + t.name + " has dtype " + e.dtype + "; expected " + detail::dtype_code<S>());
    const std::vector<std::uint64_t> shape =
        t.is_vector ? std::vector<std::uint64_t>{std::uint64_t(t.cols)}
                    : std::vector<std::uint64_t>{std::uint64_t(t.rows), std::uint64_t(t.cols)};
    if (e.shape != shape) {
      auto str = [](const std::vector<std::uint64_t>& s) {
        std::string out = "(";
        for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
        return out + (s.size() == 1 ? ",)" : ")");
      };
      file_error(path, "tensor " + t.name + " has shape " + str(e.shape) + "; expected " + str(shape));
    }
  }
  if (f.tensors.size() != layout.tensors.size()) {
    for (const auto& [name, e] : f.tensors)
      if (std::none_of(layout.tensors.begin(), layout.tensors.end(), [&](const TensorInfo& t) { return t.name == name; }))
        file_error(path, "has unexpected tensor " + name + "; expected " + expected);
  }
  detail::verify(f);

  Model<S> m(config);
  for (const auto& t : layout.tensors) {
    const detail::TensorEntry& e = f.tensors.at(t.name);
    S* out = m.params() + t.offset;
    std::memcpy(out, f.data(e), static_cast<std::size_t>(e.end - e.begin));
    if (!std::all_of(out, out + t.size(), [](S v) { return std::isfinite(v); }))
      file_error(path, "tensor " + t.name + " holds non-finite values; expected finite weights");
  }
  if (user_metadata) {
    user_metadata->clear();
    for (const auto& [key, value] : f.metadata)
      if (key.rfind(file_format::reserved_prefix, 0) != 0) (*user_metadata)[key] = value;
  }
  return m;
}

// Writes m to `path` in the format load_model and Python's elman.load read, atomically, with the
// user's `metadata` (keys starting with "elman." are elman's own and refused). Throws
// std::invalid_argument for bad metadata or non-finite weights, std::runtime_error if writing fails.
template <typename S>
void save_model(const Model<S>& m, const std::string& path, const Metadata& metadata = {}) {
  for (const auto& [key, value] : metadata)
    if (key.rfind(file_format::reserved_prefix, 0) == 0)
      throw std::invalid_argument("metadata key \"" + key + "\" starts with \"" + file_format::reserved_prefix +
                                  "\", which elman reserves for itself");
  const ParamLayout& layout = m.layout();
  std::map<std::string, detail::TensorEntry> tensors;
  std::map<std::string, const void*> data;
  std::uint64_t at = 0;
  for (const auto& t : layout.tensors) {
    const S* p = m.params() + t.offset;
    if (!std::all_of(p, p + t.size(), [](S v) { return std::isfinite(v); }))
      throw std::invalid_argument(t.name + " holds non-finite values; a model file must hold finite weights");
    detail::TensorEntry e;
    e.dtype = detail::dtype_code<S>();
    e.shape = t.is_vector ? std::vector<std::uint64_t>{std::uint64_t(t.cols)}
                          : std::vector<std::uint64_t>{std::uint64_t(t.rows), std::uint64_t(t.cols)};
    e.begin = at;
    e.end = at += std::uint64_t(t.size()) * sizeof(S);
    tensors.emplace(t.name, e);
    data.emplace(t.name, p);
  }
  Metadata all = metadata;
  all[file_format::config_key] = detail::config_json<S>(m.config()).dump();
  all[file_format::format_key] = std::to_string(file_format::version);
  all[file_format::checksum_key] = detail::checksum(all, tensors, nullptr, data);

  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = all;
  for (const auto& [name, e] : tensors)
    header[name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {e.begin, e.end}}};
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("metadata cannot be written as JSON (") + e.what() +
                                "); expected UTF-8 strings");
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // the data region starts 8-byte aligned, as safetensors pads it
  std::vector<unsigned char> bytes(8 + text.size() + at);
  std::uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<unsigned char>(n >> (8 * i));
  std::memcpy(bytes.data() + 8, text.data(), text.size());
  for (const auto& t : layout.tensors)
    std::memcpy(bytes.data() + 8 + text.size() + tensors.at(t.name).begin, m.params() + t.offset,
                std::size_t(t.size()) * sizeof(S));
  detail::atomic_write(path, bytes);
}

}  // namespace elman
