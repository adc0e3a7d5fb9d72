// A pipeline: stages chained by references. Each stage transforms a document and passes it on
// to the next stage, awaiting its answer; the last stage answers, and the answer travels back
// up the chain to the caller.
#include <algorithm>
#include <cctype>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pulsing/pulsing.hpp>

#include "expect.hpp"

struct Document {
  std::string text;
  std::vector<std::string> trail;  // the stages it went through
  PULSING_FIELDS(Document, text, trail)
};

// [guide:pipeline]
class PipelineStage : public pulsing::Actor {
 public:
  using Transform = std::string (*)(std::string);

  PipelineStage(std::string name, Transform transform,
                std::optional<pulsing::ActorRef<PipelineStage>> next_stage = std::nullopt)
      : name_(std::move(name)), transform_(transform), next_stage_(std::move(next_stage)) {}

  pulsing::Task<Document> process(Document document) {
    document.text = transform_(std::move(document.text));
    document.trail.push_back(name_);
    if (next_stage_) co_return co_await next_stage_->ask(&PipelineStage::process, std::move(document));
    co_return document;
  }

  PULSING_METHODS(PipelineStage, process)

 private:
  std::string name_;
  Transform transform_;
  std::optional<pulsing::ActorRef<PipelineStage>> next_stage_;
};
// [/guide:pipeline]

std::string trim(std::string text) {
  auto is_space = [](unsigned char c) { return std::isspace(c) != 0; };
  text.erase(text.begin(), std::find_if_not(text.begin(), text.end(), is_space));
  text.erase(std::find_if_not(text.rbegin(), text.rend(), is_space).base(), text.end());
  return text;
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

std::string exclaim(std::string text) { return text + "!"; }

int main() {
  pulsing::init();

  // [guide:pipeline-use]
  // Built from the end, so that each stage is given the reference to the next.
  auto last = PipelineStage::spawn({}, "exclaim", exclaim).get();
  auto middle = PipelineStage::spawn({}, "upper", upper, last).get();
  auto first = PipelineStage::spawn({}, "trim", trim, middle).get();

  Document out = first.ask(&PipelineStage::process, Document{"  hello, pulsing  ", {}}).get();
  // [/guide:pipeline-use]

  std::string trail;
  for (const auto& stage : out.trail) trail += (trail.empty() ? "" : " > ") + stage;
  std::cout << "in:  \"  hello, pulsing  \"\n"
            << "out: \"" << out.text << "\"\n"
            << "via: " << trail << "\n";
  expect(out.text == "HELLO, PULSING!", "every stage transformed the text, in order");
  expect(trail == "trim > upper > exclaim", "the document went through the three stages");
  pulsing::shutdown();
}
