// Result documents (results/schema/result.schema.json) rendered for other
// tools: `bitlab bench -o FORMAT` and `bitlab results FILE... -o FORMAT`.
//
//   json    the document as written (several: a JSON array of them)
//   jsonl   one object per measurement, its context flattened in
//   csv     the same columns as jsonl, RFC 4180
//   md      llama-bench's markdown table of the end-to-end cases
//   sql     llama-bench's `llama_bench` table (CREATE TABLE IF NOT EXISTS + INSERTs)
//   gbench  the kernel cases as Google Benchmark JSON (tools/compare.py reads it)
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bitlab::cli {

enum class OutputFormat { Json, Jsonl, Csv, Md, Sql, Gbench };

// "json, jsonl, csv, md, sql, gbench": what the options' help and errors list.
std::string output_format_list();
// The format named `name`; a UsageError naming `option` and the choices otherwise.
OutputFormat parse_output_format(const std::string& name, const std::string& option);

// A result document and the name its errors use (its path).
struct NamedResult {
  std::string name;
  nlohmann::json doc;
};

// Reads and checks a result file (result_reader.h: the fields compare reads,
// a UsageError naming the file otherwise) and keeps the whole document.
NamedResult load_named_result(const std::string& path);

// Renders every document in one output: one CSV header, one CREATE TABLE,
// one markdown table, one Google Benchmark document. A field the format needs
// that is missing or of the wrong type is a UsageError naming the document
// and the field.
std::string render_results(const std::vector<NamedResult>& docs, OutputFormat format);

}  // namespace bitlab::cli
