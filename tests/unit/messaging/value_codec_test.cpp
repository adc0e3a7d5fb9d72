#include "messaging/value_codec.hpp"

#include <cmath>
#include <cstring>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>
#include <doctest/doctest.h>

#include "samples.hpp"

namespace pulsing {
namespace {

Value round_trip(const Value& value) { return decode_value(encode_value(value)); }

std::vector<std::byte> to_bytes(kj::ArrayPtr<const kj::byte> bytes) {
  const auto* begin = reinterpret_cast<const std::byte*>(bytes.begin());
  return {begin, begin + bytes.size()};
}

// Encodes a message that our own writer would never produce.
template <typename Build>
std::vector<std::byte> encode_raw(Build&& build) {
  capnp::MallocMessageBuilder message;
  build(message.initRoot<wire::Value>());
  return to_bytes(capnp::messageToFlatArray(message).asBytes());
}

// The message of the DecodeError that decoding `bytes` throws, or "" if it decodes.
std::string decode_error(std::span<const std::byte> bytes, const DecodeLimits& limits = {}) {
  try {
    decode_value(bytes, limits);
  } catch (const DecodeError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("every kind survives encode and decode") {
  Value value = testing::every_kind();
  CHECK(round_trip(value) == value);
  CHECK(round_trip(nullptr) == Value());
  CHECK(round_trip(Value::List{}) == Value(Value::List{}));
  CHECK(round_trip(Value::Map{}) == Value(Value::Map{}));
  CHECK(round_trip(std::numeric_limits<std::uint64_t>::max()).is_uint());
  CHECK(std::isnan(round_trip(std::numeric_limits<double>::quiet_NaN()).as_float()));
}

TEST_CASE("nesting up to the limit round trips, deeper is rejected") {
  Value lists = testing::nested_lists(64);
  CHECK(round_trip(lists) == lists);
  Value maps = 1;
  for (int i = 0; i < 64; ++i) maps = Value::Map{{"k" + std::to_string(i), std::move(maps)}};
  CHECK(round_trip(maps) == maps);

  CHECK(decode_error(encode_value(testing::nested_lists(65))) ==
        "value nested deeper than 64 levels");
  maps = Value::Map{{"one more", std::move(maps)}};
  CHECK(decode_error(encode_value(maps)) == "value nested deeper than 64 levels");

  Value deeper = testing::nested_lists(200);
  CHECK(decode_value(encode_value(deeper), {.nesting_limit = 200}) == deeper);
}

TEST_CASE("a misaligned buffer decodes") {
  Value value = testing::every_kind();
  auto encoded = encode_value(value);
  std::vector<std::byte> buffer(encoded.size() + 1);
  std::copy(encoded.begin(), encoded.end(), buffer.begin() + 1);
  std::span<const std::byte> misaligned(buffer.data() + 1, encoded.size());
  REQUIRE(reinterpret_cast<std::uintptr_t>(misaligned.data()) % 8 != 0);
  CHECK(decode_value(misaligned) == value);
}

TEST_CASE("every truncation of a message is rejected") {
  auto encoded = encode_value(testing::every_kind());
  for (std::size_t size = 0; size < encoded.size(); ++size) {
    CAPTURE(size);
    CHECK_FALSE(decode_error(std::span(encoded).first(size)).empty());
  }
  CHECK(decode_error(std::span(encoded).first(12)).find("not a whole number of 8-byte words") !=
        std::string::npos);
  CHECK(decode_error({}) == "empty message");
}

TEST_CASE("bytes after the message are rejected") {
  auto encoded = encode_value(Value(1));
  encoded.resize(encoded.size() + 8);
  CHECK(decode_error(encoded) == "8 bytes after the end of the message");
}

TEST_CASE("garbage never crashes: it decodes or throws DecodeError") {
  std::mt19937 random(12345);
  std::vector<std::byte> garbage;
  for (int round = 0; round < 2000; ++round) {
    garbage.resize(8 * (1 + random() % 32));
    for (auto& b : garbage) b = static_cast<std::byte>(random());
    if (round % 2 == 0) {
      // A plausible header (one segment of the right size) reaches the pointer checks.
      std::uint32_t header[2] = {0, static_cast<std::uint32_t>(garbage.size() / 8 - 1)};
      std::memcpy(garbage.data(), header, sizeof header);
    }
    CAPTURE(round);
    try {
      decode_value(garbage);
    } catch (const DecodeError&) {
    }
  }
  std::vector<std::byte> ones(64, std::byte{0xff});
  CHECK_FALSE(decode_error(ones).empty());
}

TEST_CASE("a message over the size limit is rejected before reading") {
  Value big = Value::Bytes(4096, std::byte{7});
  auto encoded = encode_value(big);
  CHECK(decode_error(encoded, {.traversal_limit_words = 64}) ==
        "message of " + std::to_string(encoded.size()) + " bytes exceeds the limit of 512 bytes");
  CHECK(decode_error(encoded, {.traversal_limit_words = 1024}).empty());
}

TEST_CASE("a union member from a newer peer is rejected by name") {
  auto encoded = encode_raw([](wire::Value::Builder value) {
    value.setInt(1);
    // Put an unknown discriminant where the schema keeps it.
    auto offset = capnp::Schema::from<wire::Value>().getProto().getStruct().getDiscriminantOffset();
    capnp::AnyStruct::Builder any(kj::mv(value));
    auto data = any.getDataSection();
    REQUIRE(data.size() >= 2 * (offset + 1));
    data[2 * offset] = 42;
    data[2 * offset + 1] = 0;
  });
  CHECK(decode_error(encoded) == "unknown value kind 42 (sent by a newer peer?)");
}

TEST_CASE("a duplicate map key is rejected") {
  auto encoded = encode_raw([](wire::Value::Builder value) {
    auto entries = value.initMap(2);
    for (auto entry : entries) {
      entry.setKey("k");
      entry.initValue().setInt(1);
    }
  });
  CHECK(decode_error(encoded) == "duplicate map key 'k'");
}

TEST_CASE("a Value embeds in a larger message") {
  capnp::MallocMessageBuilder message;
  auto list = message.initRoot<wire::Value>().initList(2);
  write_value(list[0], Value("first"));
  write_value(list[1], testing::every_kind());
  auto bytes = to_bytes(capnp::messageToFlatArray(message).asBytes());
  read_flat_message(bytes, {}, [](capnp::MessageReader& reader) {
    auto root = reader.getRoot<wire::Value>().getList();
    CHECK(read_value(root[0]) == Value("first"));
    CHECK(read_value(root[1]) == testing::every_kind());
  });
}

}  // namespace pulsing
