// Errors raised by core code. Core files never include PostgreSQL headers, so an error carries its SQLSTATE as
// five characters; the boundary guard turns it into ereport(ERROR) once every C++ frame has unwound.
#pragma once
#include <stdexcept>
#include <string>

namespace byo {

class CoreError : public std::runtime_error {
public:
    CoreError(std::string sqlstate, const std::string& message, std::string hint = {})
        : std::runtime_error(message), sqlstate_(std::move(sqlstate)), hint_(std::move(hint)) {}
    const std::string& sqlstate() const { return sqlstate_; }
    const std::string& hint() const { return hint_; }

private:
    std::string sqlstate_;
    std::string hint_;
};

// A pending query cancel or backend termination stopped a transfer; the boundary raises the real interrupt.
class Interrupted : public std::runtime_error {
public:
    Interrupted() : std::runtime_error("interrupted") {}
};

namespace sqlstate {
inline const char* const invalid_parameter_value = "22023";
inline const char* const prerequisite_state = "55000";
inline const char* const data_corrupted = "XX001";
inline const char* const invalid_authorization = "28000";
inline const char* const undefined_object = "42704";
inline const char* const connection_exception = "08000";
inline const char* const protocol_violation = "08P01";
inline const char* const internal_error = "XX000";
}  // namespace sqlstate

}  // namespace byo
