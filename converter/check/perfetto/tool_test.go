package perfetto

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQueryErrors: tpq's failures reach the caller with its own message.
func TestQueryErrors(t *testing.T) {
	Require(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte(`{"traceEvents":[{"ph":"X","pid":1,"tid":1,"ts":0,"dur":1,"name":"a"}]}`), 0o644)
	os.WriteFile(bad, []byte(`{"traceEvents":[{"ph":"X", garbage`), 0o644)
	for _, tc := range []struct {
		path, sql, want string
	}{
		{filepath.Join(dir, "absent.json"), "select 1", "No such file or directory"},
		{bad, "select 1", "Failure parsing JSON"},
		{good, "select * from no_such_table", "no such table: no_such_table"},
	} {
		_, err := query(t.Context(), tc.path, tc.sql)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("query(%s, %q) = %v, want an error saying %q", filepath.Base(tc.path), tc.sql, err, tc.want)
		}
	}
	tables, err := query(t.Context(), good, "select name, null as n, 'a\"b' || char(10) as s from slice", "select count(*) from flow")
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 2 || len(tables[0].Rows) != 1 {
		t.Fatalf("tables = %+v", tables)
	}
	row := tables[0].Rows[0]
	if str(row[0]) != "a" || row[1] != nil || str(row[2]) != "a\"b\n" || tables[1].Columns[0] != "count(*)" {
		t.Errorf("row = %q %v %q, columns %v", str(row[0]), row[1], str(row[2]), tables[1].Columns)
	}
}
