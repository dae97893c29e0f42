#pragma once
// CSV lines into fields, for the sources that read CSV files (table, audio_dataset manifests).
#include <string>
#include <string_view>
#include <vector>

namespace tributary::sources {

// The text without leading and trailing spaces and tabs.
std::string_view trim_blanks(std::string_view text);

// One line into fields: RFC 4180 quotes ("a ""b""" is a "b"), fields trimmed of blanks.
void split_csv_line(std::string_view line, char delimiter, std::vector<std::string>& fields);

}  // namespace tributary::sources
