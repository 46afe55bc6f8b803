// A string that wipes its bytes when it dies: plaintext tokens and key material live only in these.
#pragma once
#include <openssl/crypto.h>
#include <string>
#include <string_view>

namespace byo {

class Secret {
public:
    Secret() = default;
    explicit Secret(std::string_view value) : value_(value) {}
    Secret(const Secret& other) : value_(other.value_) {}
    Secret& operator=(const Secret& other) {
        if (this != &other) {
            wipe();
            value_ = other.value_;
        }
        return *this;
    }
    ~Secret() { wipe(); }

    std::string_view view() const { return value_; }
    const char* c_str() const { return value_.c_str(); }
    std::size_t size() const { return value_.size(); }
    bool empty() const { return value_.empty(); }

    // Direct access for filling in place (e.g. decryption output); caller keeps it inside this object.
    std::string& buffer() { return value_; }

private:
    void wipe() {
        if (!value_.empty()) OPENSSL_cleanse(value_.data(), value_.size());
        value_.clear();
    }
    std::string value_;
};

}  // namespace byo
