// Generates text from a character model trained by `elman train`, with the C++ API alone: the model
// and its vocabulary come from the file (load_model, and the "vocabulary" entry of its metadata, read
// with nlohmann_json), the loop is Model::generate. With the same arguments and seed it prints exactly
// what `elman sample` prints (.ci/cpp_package.sh checks that). --save PATH also writes the model and its
// metadata back with save_model, in the format Python's elman.load reads.
//
//   generate MODEL [--prime TEXT] [--length N] [--temperature X] [--top-k K] [--top-p P] [--seed S]
//            [--save PATH]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <elman/elman.hpp>

// The characters of UTF-8 text, each as its own string (the vocabulary's entries are characters).
static std::vector<std::string> characters(const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t n = lead < 0x80 ? 1 : lead >> 5 == 0x6 ? 2 : lead >> 4 == 0xE ? 3 : 4;
    out.push_back(text.substr(i, n));
    i += n;
  }
  return out;
}

int main(int argc, char** argv) try {
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::fprintf(stderr, "usage: generate MODEL [--prime TEXT] [--length N] [--temperature X] [--top-k K] "
                         "[--top-p P] [--seed S] [--save PATH]\n");
    return 2;
  }
  std::map<std::string, std::string> options = {{"--length", "500"}, {"--temperature", "0.8"}};
  for (int i = 2; i + 1 < argc; i += 2) options[argv[i]] = argv[i + 1];
  if (argc % 2 != 0) throw std::invalid_argument(std::string("option ") + argv[argc - 1] + " has no value");

  elman::Metadata metadata;
  elman::Model<float> model = elman::load_model<float>(argv[1], &metadata);
  if (!metadata.count("vocabulary"))
    throw std::runtime_error(std::string(argv[1]) + " has no vocabulary in its metadata; train it with `elman train`");
  const auto vocab_json = nlohmann::json::parse(metadata.at("vocabulary"));
  const std::vector<std::string> vocab = characters(vocab_json.at("chars").get<std::string>());
  if (elman::Index(vocab.size()) != model.config().input_size)
    throw std::runtime_error("the vocabulary does not fit the model");

  std::map<std::string, std::int64_t> id;
  for (std::size_t i = 0; i < vocab.size(); ++i) id[vocab[i]] = std::int64_t(i);
  // `elman sample`'s default prime: "The " when the corpus has those letters, else its first character.
  std::string prime = "The ";
  for (const auto& ch : characters(prime))
    if (!id.count(ch)) prime = vocab.at(0);
  if (options.count("--prime")) prime = options["--prime"];
  std::vector<std::int64_t> tokens;
  for (const auto& ch : characters(prime)) {
    if (!id.count(ch)) throw std::invalid_argument("--prime holds a character the model never saw: '" + ch + "'");
    tokens.push_back(id[ch]);
  }

  elman::Sampling sampling;
  sampling.temperature = std::stod(options["--temperature"]);
  if (options.count("--top-k")) sampling.top_k = std::stoll(options["--top-k"]);
  if (options.count("--top-p")) sampling.top_p = std::stod(options["--top-p"]);
  sampling.seed = options.count("--seed") ? std::stoull(options["--seed"]) : std::random_device{}();
  const elman::Index length = std::stoll(options["--length"]);
  std::vector<std::int64_t> out(std::size_t(std::max<elman::Index>(length, 0)));
  model.generate(tokens.data(), elman::Index(tokens.size()), length, 1, sampling, nullptr, out.data(), nullptr);

  std::string text = prime;
  for (std::int64_t t : out) text += vocab.at(std::size_t(t));
  std::printf("%s\n", text.c_str());
  if (options.count("--save")) elman::save_model(model, options["--save"], metadata);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "generate: %s\n", e.what());
  return 1;
}
