// tpq loads a trace into Perfetto's trace processor, the importer behind
// ui.perfetto.dev, and prints the answers to SQL queries as JSON.
//
//   tpq TRACE_FILE SQL...
//
// For each query, in order, one line on stdout:
//
//   {"columns":["id","name"],"rows":[["1","a"],["2",null]]}
//
// Every cell is a JSON string (trace processor hands back text), or null where
// the value is SQL NULL. Exit status: 0 all queries answered; 1 usage; 2 the
// trace file could not be read; 3 trace processor rejected the trace; 4 a
// query failed (its error on stderr; earlier answers are on stdout); 5 stdout
// could not be written.
//
// Trace processor comes from Debian's chromium-shell package, which ships
// Chromium's test wrapper around it as libtest_trace_processor.so
// (base::test::TestTraceProcessorImpl) with no header. The declarations below
// match Chromium's base/test/test_trace_processor_impl.h; the library links
// its own libc++ statically with the std::__1 ABI, so this file must be built
// with clang++ -stdlib=libc++ for std::string and std::vector to agree.
// .ci/perfetto.sh builds it and smoke-tests the result.

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace absl {
// Status is absl::Status as laid out in memory: one word, rep_, which is
// odd for an inlined code (1 is OK) and otherwise points to a StatusRep.
// The library exports no absl symbols, so the destructor is ours: it leaks
// the rep of a failed parse, once, just before exit.
struct Status {
  uintptr_t rep_;
  ~Status() {}
};
}  // namespace absl

namespace base::test {
class QueryResultOrError {
 public:
  ~QueryResultOrError();
  // The first row holds the column names; NULL cells read "[NULL]".
  std::vector<std::vector<std::string>> result_;
  std::string error_;
};

class TestTraceProcessorImpl {
 public:
  TestTraceProcessorImpl();
  ~TestTraceProcessorImpl();
  QueryResultOrError ExecuteQuery(const std::string& sql) const;
  absl::Status ParseTrace(const std::vector<char>& raw_trace);

 private:
  // Room for the real members (unique_ptrs to a config and the processor);
  // generously sized since only the library touches them.
  void* members_[16];
};
}  // namespace base::test

namespace {

// StatusRep mirrors absl::status_internal::StatusRep, whose message says why
// the parse failed ("Failure parsing JSON: ...").
struct StatusRep {
  int32_t ref;
  int32_t code;
  std::string message;
};

// statusMessage returns the message of a failed absl::Status, or a generic
// one when the rep does not look like a StatusRep (a different absl layout).
std::string statusMessage(const absl::Status& st) {
  if ((st.rep_ & 1) != 0) {
    return "status code " + std::to_string(st.rep_ >> 2);
  }
  const auto* rep = reinterpret_cast<const StatusRep*>(st.rep_);
  if (rep->code <= 0 || rep->code > 16 || rep->message.size() > (1 << 20)) {
    return "unknown error";
  }
  return rep->message;
}

bool readFile(const char* path, std::vector<char>* out) {
  FILE* f = std::fopen(path, "rb");
  if (f == nullptr) {
    return false;
  }
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    out->insert(out->end(), buf, buf + n);
  }
  bool ok = !std::ferror(f);
  int saved = errno;
  std::fclose(f);
  errno = saved;
  return ok;
}

void appendJSONString(std::string* out, const std::string& s) {
  static const char hex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out->append("\\u00");
          out->push_back(hex[c >> 4]);
          out->push_back(hex[c & 15]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void appendRow(std::string* out, const std::vector<std::string>& row, bool nulls) {
  out->push_back('[');
  for (size_t i = 0; i < row.size(); i++) {
    if (i > 0) {
      out->push_back(',');
    }
    if (nulls && row[i] == "[NULL]") {
      out->append("null");
    } else {
      appendJSONString(out, row[i]);
    }
  }
  out->push_back(']');
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: tpq TRACE_FILE SQL...\n");
    return 1;
  }
  std::vector<char> data;
  if (!readFile(argv[1], &data)) {
    std::fprintf(stderr, "tpq: read %s: %s\n", argv[1], std::strerror(errno));
    return 2;
  }
  base::test::TestTraceProcessorImpl tp;
  absl::Status st = tp.ParseTrace(data);
  if (st.rep_ != 1) {
    std::fprintf(stderr, "tpq: %s: trace processor: %s\n", argv[1], statusMessage(st).c_str());
    return 3;
  }
  std::string out;
  for (int q = 2; q < argc; q++) {
    base::test::QueryResultOrError r = tp.ExecuteQuery(argv[q]);
    if (!r.error_.empty()) {
      std::fprintf(stderr, "tpq: query %d failed: %s\nquery: %s\n", q - 1, r.error_.c_str(), argv[q]);
      return 4;
    }
    out.assign("{\"columns\":");
    if (r.result_.empty()) {
      out.append("[]");
    } else {
      appendRow(&out, r.result_[0], false);
    }
    out.append(",\"rows\":[");
    for (size_t i = 1; i < r.result_.size(); i++) {
      if (i > 1) {
        out.push_back(',');
      }
      appendRow(&out, r.result_[i], true);
    }
    out.append("]}\n");
    if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size()) {
      std::fprintf(stderr, "tpq: write stdout: %s\n", std::strerror(errno));
      return 5;
    }
  }
  if (std::fflush(stdout) != 0) {
    std::fprintf(stderr, "tpq: write stdout: %s\n", std::strerror(errno));
    return 5;
  }
  return 0;
}
