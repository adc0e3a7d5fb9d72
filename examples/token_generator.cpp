// Streaming, LLM style: a generator method co_yields tokens and the caller reads them as they
// come. Credits keep the generator at most a window ahead of a slow reader. The "model" is a
// stand-in (a canned answer), loaded in on_start(), the hook every new instance runs first.
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <pulsing/pulsing.hpp>

#include "expect.hpp"

// [guide:token-generator]
struct Chunk {
  std::string token;
  PULSING_FIELDS(Chunk, token)
};

class TokenGenerator : public pulsing::Actor {
 public:
  explicit TokenGenerator(std::string model_name) : model_name_(std::move(model_name)) {}

  void on_start() override { vocabulary_ = load_model(model_name_); }

  pulsing::Stream<Chunk> generate(std::string /*prompt: a toy model ignores it*/, int max_tokens) {
    int produced = 0;
    for (const auto& token : vocabulary_) {
      if (produced++ == max_tokens) break;
      // A named variable, not `co_yield Chunk{token}`: g++ 12 miscompiles a braced aggregate
      // temporary in a co_yield (the string inside is freed twice).
      Chunk chunk{token};
      co_yield std::move(chunk);  // the reader has it now; we go on while it has credit left
    }
  }

  PULSING_METHODS(TokenGenerator, generate)

 private:
  static std::vector<std::string> load_model(const std::string&) {
    return {"Actors", " keep", " their", " state", " private", " and", " talk", " in", " messages", "."};
  }

  std::string model_name_;
  std::vector<std::string> vocabulary_;
};
// [/guide:token-generator]

int main() {
  pulsing::init();
  auto generator = TokenGenerator::spawn({.name = "llm"}, "toy-model").get();

  // [guide:stream-read]
  std::string text;
  for (Chunk& chunk : generator.stream(&TokenGenerator::generate, "Tell me about actors", 100)) {
    std::cout << chunk.token << std::flush;
    text += chunk.token;
  }
  std::cout << "\n";
  // [/guide:stream-read]
  expect(text == "Actors keep their state private and talk in messages.", "every token, in order");

  // [guide:stream-by-name]
  // By name, each chunk arrives as a Value map: {"token": ...}.
  pulsing::AnyRef untyped = generator;
  int count = 0;
  for (pulsing::Value& chunk : untyped.stream("generate", {"Hello", 3})) {
    std::cout << "chunk " << ++count << ": " << chunk.find("token")->as_text() << "\n";
  }
  // [/guide:stream-by-name]
  expect(count == 3, "max_tokens bounds the stream");

  pulsing::shutdown();
}
