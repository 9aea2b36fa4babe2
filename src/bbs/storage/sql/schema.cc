#include "bbs/storage/sql/schema.h"

#include <string_view>

#include <fmt/format.h>

namespace bbs::storage::sql {
namespace {

constexpr const char* kVarchar = "VARCHAR(255)";
constexpr const char* kLongVarchar = "VARCHAR(1024)";

constexpr Column kDomainColumns[] = {
    {.name = "domain", .type = kVarchar, .constraints = "PRIMARY KEY", .key = true},
    {.name = "expire_time", .type = "BIGINT", .constraints = "DEFAULT 0"},
};
constexpr const char* kDomainIndexes[] = {"expire_time"};

constexpr Column kDesiredColumns[] = {
    {.name = "process_guid", .type = kVarchar, .constraints = "PRIMARY KEY", .key = true},
    {.name = "domain", .type = kVarchar, .constraints = "NOT NULL"},
    {.name = "log_guid", .type = kVarchar, .constraints = "NOT NULL"},
    {.name = "annotation", .type = "TEXT", .mysql_type = "LONGTEXT"},
    {.name = "instances", .type = "INT", .constraints = "NOT NULL"},
    {.name = "memory_mb", .type = "INT", .constraints = "NOT NULL"},
    {.name = "disk_mb", .type = "INT", .constraints = "NOT NULL"},
    {.name = "max_pids", .type = "INTEGER", .constraints = "DEFAULT 0"},
    {.name = "rootfs", .type = kLongVarchar, .constraints = "NOT NULL"},
    {.name = "routes", .type = "TEXT", .mysql_type = "LONGTEXT", .constraints = "NOT NULL"},
    {.name = "volume_placement",
     .type = "TEXT",
     .mysql_type = "LONGTEXT",
     .constraints = "NOT NULL"},
    {.name = "modification_tag_epoch", .type = kVarchar, .constraints = "NOT NULL"},
    {.name = "modification_tag_index", .type = "INT"},
    {.name = "run_info", .type = "TEXT", .mysql_type = "LONGTEXT", .constraints = "NOT NULL"},
    {.name = "placement_tags", .type = "TEXT"},
    {.name = "metric_tags", .type = "TEXT", .mysql_type = "MEDIUMTEXT"},
    {.name = "update_strategy", .type = "INT", .constraints = "NOT NULL DEFAULT 0"},
};
constexpr const char* kDesiredIndexes[] = {"domain"};

constexpr Column kActualColumns[] = {
    {.name = "process_guid", .type = kVarchar, .key = true},
    {.name = "instance_index", .type = "INT", .key = true},
    {.name = "presence", .type = "INT", .constraints = "NOT NULL DEFAULT 0", .key = true},
    {.name = "evacuating", .type = "BOOL", .constraints = "DEFAULT false"},
    {.name = "domain", .type = kVarchar, .constraints = "NOT NULL"},
    {.name = "state", .type = kVarchar, .constraints = "NOT NULL"},
    {.name = "instance_guid", .type = kVarchar, .constraints = "NOT NULL DEFAULT ''"},
    {.name = "cell_id", .type = kVarchar, .constraints = "NOT NULL DEFAULT ''"},
    {.name = "placement_error", .type = kLongVarchar, .constraints = "NOT NULL DEFAULT ''"},
    {.name = "since", .type = "BIGINT", .constraints = "DEFAULT 0"},
    {.name = "net_info", .type = "TEXT", .mysql_type = "LONGTEXT", .constraints = "NOT NULL"},
    {.name = "modification_tag_epoch", .type = kVarchar, .constraints = "NOT NULL"},
    {.name = "modification_tag_index", .type = "INT"},
    {.name = "crash_count", .type = "INT", .constraints = "NOT NULL DEFAULT 0"},
    {.name = "crash_reason", .type = kLongVarchar, .constraints = "NOT NULL DEFAULT ''"},
    {.name = "expire_time", .type = "BIGINT", .constraints = "DEFAULT 0", .written = false},
    {.name = "internal_routes", .type = "TEXT", .mysql_type = "MEDIUMTEXT"},
    {.name = "metric_tags", .type = "TEXT", .mysql_type = "MEDIUMTEXT"},
    {.name = "routable", .type = "BOOL", .constraints = "DEFAULT false"},
    {.name = "availability_zone", .type = kVarchar, .constraints = "NOT NULL DEFAULT ''"},
};
constexpr const char* kActualIndexes[] = {"domain", "cell_id", "since", "state", "expire_time"};

constexpr Column kTaskColumns[] = {
    {.name = "guid", .type = kVarchar, .constraints = "PRIMARY KEY", .key = true},
    {.name = "domain", .type = kVarchar, .constraints = "NOT NULL"},
    {.name = "updated_at", .type = "BIGINT", .constraints = "DEFAULT 0"},
    {.name = "created_at", .type = "BIGINT", .constraints = "DEFAULT 0"},
    {.name = "first_completed_at", .type = "BIGINT", .constraints = "DEFAULT 0"},
    {.name = "state", .type = "INT"},
    {.name = "cell_id", .type = kVarchar, .constraints = "NOT NULL DEFAULT ''"},
    {.name = "result", .type = "TEXT", .mysql_type = "LONGTEXT"},
    {.name = "failed", .type = "BOOL", .constraints = "DEFAULT false"},
    {.name = "failure_reason", .type = kLongVarchar, .constraints = "NOT NULL DEFAULT ''"},
    {.name = "task_definition",
     .type = "TEXT",
     .mysql_type = "LONGTEXT",
     .constraints = "NOT NULL"},
    {.name = "rejection_count", .type = "INTEGER", .constraints = "NOT NULL DEFAULT 0"},
    {.name = "rejection_reason", .type = kLongVarchar, .constraints = "NOT NULL DEFAULT ''"},
};
constexpr const char* kTaskIndexes[] = {"domain",     "state",      "cell_id",
                                        "updated_at", "created_at", "first_completed_at"};

constexpr Table kTables[] = {
    {.name = "domains", .columns = kDomainColumns, .indexed = kDomainIndexes},
    {.name = "desired_lrps", .columns = kDesiredColumns, .indexed = kDesiredIndexes},
    {.name = "actual_lrps",
     .columns = kActualColumns,
     .primary_key = "PRIMARY KEY (process_guid, instance_index, presence)",
     .indexed = kActualIndexes},
    {.name = "tasks", .columns = kTaskColumns, .indexed = kTaskIndexes},
};

std::string ColumnSql(Dialect dialect, const Column& column) {
  std::string out = fmt::format(
      "{} {}", column.name,
      dialect == Dialect::kMysql && column.mysql_type != nullptr ? column.mysql_type : column.type);
  std::string_view constraints = column.constraints;
  if (dialect == Dialect::kSqlite && column.key && !constraints.starts_with("NOT NULL")) {
    out += " NOT NULL";
  }
  if (!constraints.empty()) {
    out += fmt::format(" {}", constraints);
  }
  return out;
}

}  // namespace

std::span<const Table> RecordTables() { return kTables; }
const Table& DomainsTable() { return kTables[0]; }
const Table& DesiredLrpsTable() { return kTables[1]; }
const Table& ActualLrpsTable() { return kTables[2]; }
const Table& TasksTable() { return kTables[3]; }

std::string CreateTableSql(Dialect dialect, const Table& table) {
  std::vector<std::string> lines;
  for (const Column& column : table.columns) {
    lines.push_back("  " + ColumnSql(dialect, column));
  }
  if (table.primary_key != nullptr) {
    lines.push_back(fmt::format("  {}", table.primary_key));
  }
  bool inline_indexes = dialect == Dialect::kMysql;
  if (inline_indexes) {
    for (const char* column : table.indexed) {
      lines.push_back(fmt::format("  INDEX {}_{}_idx ({})", table.name, column, column));
    }
  }
  std::string out =
      fmt::format("CREATE TABLE IF NOT EXISTS {} (\n{}\n)", table.name, fmt::join(lines, ",\n"));
  if (inline_indexes) {
    return out + " DEFAULT CHARSET = utf8mb4";
  }
  for (const char* column : table.indexed) {
    out +=
        fmt::format(";\nCREATE INDEX IF NOT EXISTS {0}_{1}_idx ON {0} ({1})", table.name, column);
  }
  return out;
}

std::string CreateRecordTablesSql(Dialect dialect) {
  std::string out;
  for (const Table& table : kTables) {
    out += CreateTableSql(dialect, table) + ";\n";
  }
  return out;
}

std::string UpsertSql(Dialect dialect, const Table& table) {
  std::vector<std::string_view> columns;
  std::vector<std::string_view> keys;
  std::vector<std::string> placeholders;
  std::vector<std::string> updates;
  for (const Column& column : table.columns) {
    if (!column.written) {
      continue;
    }
    columns.push_back(column.name);
    placeholders.push_back(dialect == Dialect::kMysql    ? std::string("{}")
                           : dialect == Dialect::kSqlite ? fmt::format("?{}", columns.size())
                                                         : fmt::format("${}", columns.size()));
    if (column.key) {
      keys.push_back(column.name);
    } else if (dialect == Dialect::kMysql) {
      updates.push_back(fmt::format("{0} = VALUES({0})", column.name));
    } else {
      updates.push_back(fmt::format("{0} = excluded.{0}", column.name));
    }
  }
  std::string insert = fmt::format("INSERT INTO {} ({}) VALUES ({})", table.name,
                                   fmt::join(columns, ", "), fmt::join(placeholders, ", "));
  if (dialect == Dialect::kMysql) {
    return fmt::format("{} ON DUPLICATE KEY UPDATE {}", insert, fmt::join(updates, ", "));
  }
  return fmt::format("{} ON CONFLICT ({}) DO UPDATE SET {}", insert, fmt::join(keys, ", "),
                     fmt::join(updates, ", "));
}

}  // namespace bbs::storage::sql
