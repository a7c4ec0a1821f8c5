// Configuration from outside: a .env file's text, then (after a NUL byte)
// command-line arguments separated by NUL bytes. The .env's settings become
// the environment load_config validates (no file is read here).
#include <cstdint>
#include <string>
#include <string_view>

#include "common/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t cut = input.find('\0');
  genkit::Result<std::map<std::string, std::string>> env =
      genkit::parse_dotenv(std::string(input.substr(0, cut)));
  if (!env.ok()) return 0;
  genkit::ConfigInputs inputs;
  inputs.env = std::move(env).value();
  inputs.read_dotenv = false;
  while (cut != std::string_view::npos) {
    input.remove_prefix(cut + 1);
    cut = input.find('\0');
    inputs.args.emplace_back(input.substr(0, cut));
  }
  (void)genkit::load_config(inputs);
  return 0;
}
