#pragma once
// Protocol buffers' wire format, written by hand for the two kinds of file netadj writes in it (TensorBoard
// events, ONNX models): a message is a sequence of (field number, wire type) keys with their values. Fields are
// appended in the order a writer calls; readers accept any order.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace netadj {

class ProtoWriter {
 public:
  /// Wire type 0: int32/int64/uint64/bool/enum (a negative int64 takes ten bytes, as protobuf writes it).
  ProtoWriter& varint(int field, int64_t v) {
    key(field, 0);
    put_varint(uint64_t(v));
    return *this;
  }
  ProtoWriter& float32(int field, float v) {  ///< wire type 5
    key(field, 5);
    put_fixed(v);
    return *this;
  }
  ProtoWriter& float64(int field, double v) {  ///< wire type 1
    key(field, 1);
    put_fixed(v);
    return *this;
  }
  ProtoWriter& bytes(int field, const std::string& b) {  ///< wire type 2: strings, bytes, messages
    key(field, 2);
    put_varint(b.size());
    out_ += b;
    return *this;
  }
  ProtoWriter& message(int field, const ProtoWriter& m) { return bytes(field, m.str()); }
  /// A packed repeated int64 (wire type 2 around the varints).
  ProtoWriter& packed(int field, const std::vector<int64_t>& v) {
    ProtoWriter p;
    for (int64_t x : v) p.put_varint(uint64_t(x));
    return bytes(field, p.str());
  }
  const std::string& str() const { return out_; }

 private:
  void key(int field, int wire) { put_varint(uint64_t(field) << 3 | uint64_t(wire)); }
  void put_varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(char((v & 0x7F) | 0x80));
      v >>= 7;
    }
    out_.push_back(char(v));
  }
  template <typename T>
  void put_fixed(T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // little-endian hosts (x86-64, aarch64), as the format is
    out_.append(b, sizeof(T));
  }
  std::string out_;
};

}  // namespace netadj
