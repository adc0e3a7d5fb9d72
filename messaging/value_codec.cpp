#include "messaging/value_codec.hpp"

#include <cstring>
#include <string>

#include <capnp/serialize.h>
#include <fmt/format.h>
#include <kj/exception.h>

namespace pulsing {

namespace {

std::string to_string(capnp::Text::Reader text) { return std::string(text.begin(), text.size()); }

capnp::Text::Reader to_text(const std::string& s) { return {s.data(), s.size()}; }

}  // namespace

void write_value(wire::Value::Builder builder, const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kNull: builder.setNull(); return;
    case Value::Kind::kBool: builder.setBool(value.as_bool()); return;
    case Value::Kind::kInt: builder.setInt(value.as_int()); return;
    case Value::Kind::kUint: builder.setUint(value.as_uint()); return;
    case Value::Kind::kFloat: builder.setFloat(value.as_float()); return;
    case Value::Kind::kText: builder.setText(to_text(value.as_text())); return;
    case Value::Kind::kBytes: {
      const auto& bytes = value.as_bytes();
      builder.setBytes({reinterpret_cast<const kj::byte*>(bytes.data()), bytes.size()});
      return;
    }
    case Value::Kind::kList: {
      const auto& list = value.as_list();
      auto out = builder.initList(static_cast<unsigned>(list.size()));
      for (unsigned i = 0; i < list.size(); ++i) write_value(out[i], list[i]);
      return;
    }
    case Value::Kind::kMap: {
      const auto& map = value.as_map();
      auto out = builder.initMap(static_cast<unsigned>(map.size()));
      unsigned i = 0;
      for (const auto& [key, element] : map) {
        auto entry = out[i++];
        entry.setKey(to_text(key));
        write_value(entry.initValue(), element);
      }
      return;
    }
    case Value::Kind::kActor: {
      const auto& actor = value.as_actor();
      auto out = builder.initActor();
      out.setNode(actor.node.value);
      out.setEndpoint(to_text(actor.endpoint));
      out.setActor(actor.actor.value);
      return;
    }
  }
}

namespace {

// `depth`: how many lists and maps enclose `reader`.
Value read_nested(wire::Value::Reader reader, int depth, int nesting_limit) {
  bool container = reader.isList() || reader.isMap();
  if (container && depth >= nesting_limit) {
    throw DecodeError(fmt::format("value nested deeper than {} levels", nesting_limit));
  }
  switch (reader.which()) {
    case wire::Value::NULL_: return nullptr;
    case wire::Value::BOOL: return reader.getBool();
    case wire::Value::INT: return reader.getInt();
    case wire::Value::UINT: return reader.getUint();
    case wire::Value::FLOAT: return reader.getFloat();
    case wire::Value::TEXT: return to_string(reader.getText());
    case wire::Value::BYTES: {
      auto bytes = reader.getBytes();
      const auto* begin = reinterpret_cast<const std::byte*>(bytes.begin());
      return Value::Bytes(begin, begin + bytes.size());
    }
    case wire::Value::LIST: {
      auto list = reader.getList();
      Value::List out;
      out.reserve(list.size());
      for (auto element : list) out.push_back(read_nested(element, depth + 1, nesting_limit));
      return out;
    }
    case wire::Value::MAP: {
      Value::Map out;
      for (auto entry : reader.getMap()) {
        auto [it, inserted] = out.emplace(to_string(entry.getKey()),
                                          read_nested(entry.getValue(), depth + 1, nesting_limit));
        if (!inserted) throw DecodeError(fmt::format("duplicate map key '{}'", it->first));
      }
      return out;
    }
    case wire::Value::ACTOR: {
      auto actor = reader.getActor();
      return ActorAddress{NodeId{actor.getNode()}, to_string(actor.getEndpoint()),
                          ActorId{actor.getActor()}};
    }
  }
  throw DecodeError(fmt::format("unknown value kind {} (sent by a newer peer?)",
                                static_cast<unsigned>(reader.which())));
}

}  // namespace

Value read_value(wire::Value::Reader reader, int nesting_limit) {
  return read_nested(reader, 0, nesting_limit);
}

std::vector<std::byte> encode_value(const Value& value) {
  capnp::MallocMessageBuilder message;
  write_value(message.initRoot<wire::Value>(), value);
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  const auto* begin = reinterpret_cast<const std::byte*>(bytes.begin());
  return {begin, begin + bytes.size()};
}

Value decode_value(std::span<const std::byte> bytes, const DecodeLimits& limits) {
  Value value;
  read_flat_message(bytes, limits, [&value, &limits](capnp::MessageReader& message) {
    value = read_value(message.getRoot<wire::Value>(), limits.nesting_limit);
  });
  return value;
}

void read_flat_message(std::span<const std::byte> bytes, const DecodeLimits& limits,
                       kj::FunctionParam<void(capnp::MessageReader&)> read) {
  constexpr std::size_t kWord = sizeof(capnp::word);
  if (bytes.empty()) throw DecodeError("empty message");
  if (bytes.size() % kWord != 0) {
    throw DecodeError(fmt::format(
        "message of {} bytes is not a whole number of 8-byte words (truncated?)", bytes.size()));
  }
  std::size_t size = bytes.size() / kWord;
  if (size > limits.traversal_limit_words) {
    throw DecodeError(fmt::format("message of {} bytes exceeds the limit of {} bytes",
                                  bytes.size(), limits.traversal_limit_words * kWord));
  }
  kj::Array<capnp::word> copy;
  const capnp::word* words = nullptr;
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(capnp::word) == 0) {
    words = reinterpret_cast<const capnp::word*>(bytes.data());
  } else {
    copy = kj::heapArray<capnp::word>(size);
    std::memcpy(copy.begin(), bytes.data(), bytes.size());
    words = copy.begin();
  }
  try {
    capnp::ReaderOptions options{limits.traversal_limit_words, limits.capnp_nesting_limit()};
    capnp::FlatArrayMessageReader message({words, size}, options);
    if (message.getEnd() != words + size) {
      auto trailing = static_cast<std::size_t>(words + size - message.getEnd());
      throw DecodeError(fmt::format("{} bytes after the end of the message", trailing * kWord));
    }
    read(message);
  } catch (const kj::Exception& e) {
    throw DecodeError(fmt::format("invalid message: {}", e.getDescription().cStr()));
  }
}

}  // namespace pulsing
