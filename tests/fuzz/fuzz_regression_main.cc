// Runs a libFuzzer target without libFuzzer: every file of the corpus directories given on
// the command line, then a bounded, seeded stream of mutations of them (byte flips, cuts,
// splices), so that parsers of untrusted input stay crash-free in every build (ASan included).
//
//   <target>_fuzz_regression [--mutations=N] CORPUS_DIR...   (default 20000 mutations)
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  std::vector<std::string> corpus;
  int mutations = 20000;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.starts_with("--mutations=")) {
      mutations = std::stoi(arg.substr(12));
      continue;
    }
    for (const auto& entry : std::filesystem::directory_iterator(arg)) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream content;
      content << in.rdbuf();
      corpus.push_back(content.str());
    }
  }
  if (corpus.empty()) {
    std::cerr << "empty corpus\n";
    return 1;
  }
  auto run = [](const std::string& input) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
  };
  for (const std::string& input : corpus) run(input);
  std::mt19937 random(20261201);
  for (int i = 0; i < mutations; ++i) {
    std::string input = corpus[random() % corpus.size()];
    const int edits = 1 + static_cast<int>(random() % 8);
    for (int e = 0; e < edits && !input.empty(); ++e) {
      const std::size_t at = random() % input.size();
      switch (random() % 4) {
        case 0:
          input[at] = static_cast<char>(random());
          break;
        case 1:
          input.erase(at, random() % 8);
          break;
        case 2:
          input.insert(at, corpus[random() % corpus.size()].substr(0, random() % 32));
          break;
        default:
          input.insert(at, 1, "\",=\\ \t\r\n"[random() % 8]);
      }
    }
    run(input);
  }
  std::cout << corpus.size() << " corpus inputs and " << mutations << " mutations: no crash\n";
  return 0;
}
