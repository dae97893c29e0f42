#pragma once
// scikit-learn's digits for the trainer benchmarks: digits.csv.gz, 1797 rows of 64 pixel values
// and a label, no header.
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace bench {

// Appends each row's 64 values to `x` and its label to `y`; exits with status 2 when the file
// cannot be opened.
inline void read_digits(const std::string& path, std::vector<float>& x, std::vector<std::int64_t>& y) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    std::exit(2);
  }
  char line[4096];
  while (gzgets(f, line, sizeof line) != nullptr) {
    std::vector<double> fields;
    char* p = line;
    while (*p != '\0' && *p != '\n') {
      char* end = nullptr;
      fields.push_back(std::strtod(p, &end));
      if (end == p) break;
      p = *end == ',' ? end + 1 : end;
    }
    if (fields.size() < 2) continue;
    for (std::size_t i = 0; i + 1 < fields.size(); ++i) x.push_back(static_cast<float>(fields[i]));
    y.push_back(static_cast<std::int64_t>(fields.back()));
  }
  gzclose(f);
}

}  // namespace bench
