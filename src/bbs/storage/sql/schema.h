#pragma once

#include <span>
#include <string>
#include <vector>

// One description of upstream's record tables (spec/behavior.md §10.1: domains, desired_lrps,
// actual_lrps, tasks), from which each SQL backend's CREATE TABLE and upsert statements are
// rendered, so that the three dialects cannot drift apart. The rendered text is exactly the text
// the backends sent before (schema_test.cc compares it with testdata/), so the databases see
// the same statements; PostgreSQL and MySQL stay on upstream's schema. Pure; thread-safe.
namespace bbs::storage::sql {

enum class Dialect { kSqlite, kPostgres, kMysql };

struct Column {
  const char* name;
  const char* type;                  // its type and constraints in SQLite and PostgreSQL
  const char* mysql_type = nullptr;  // the type in MySQL when it differs (larger TEXT kinds)
  const char* constraints = "";      // after the type: "NOT NULL", "DEFAULT 0", "PRIMARY KEY"
  bool key = false;                  // part of the primary key: SQLite declares it NOT NULL
  bool written = true;               // false: a legacy column the upserts leave alone
};

struct Table {
  const char* name;
  std::span<const Column> columns;
  const char* primary_key = nullptr;          // a table constraint, when the key has columns
  std::span<const char* const> indexed = {};  // one index "<table>_<column>_idx" each
};

// The four record tables, in the order they are created.
std::span<const Table> RecordTables();
const Table& DomainsTable();
const Table& DesiredLrpsTable();
const Table& ActualLrpsTable();
const Table& TasksTable();

// CREATE TABLE IF NOT EXISTS for `table` with its indexes: inside the statement in MySQL (with
// DEFAULT CHARSET = utf8mb4), as CREATE INDEX IF NOT EXISTS statements after it (separated by
// ";\n", no final ';') in the others.
std::string CreateTableSql(Dialect dialect, const Table& table);
// CreateTableSql of every record table, each followed by ";\n".
std::string CreateRecordTablesSql(Dialect dialect);

// The insert-or-update of one row of `table` (its written columns, in declaration order):
// ON CONFLICT (key) DO UPDATE SET c = excluded.c with $1.. placeholders in PostgreSQL, ON
// DUPLICATE KEY UPDATE c = VALUES(c) with fmt "{}" placeholders (for quoted literals) in MySQL.
std::string UpsertSql(Dialect dialect, const Table& table);

}  // namespace bbs::storage::sql
