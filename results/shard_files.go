package results

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ShardFiles are shard results, each with the file it came from, in the
// order given (a folder's files by name). Results got otherwise (a pod's
// log) may be merged the same way, named by where they came from:
// ShardFiles{Reports: reps, Files: podNames}.Merge(allowPartial).
type ShardFiles struct {
	Reports []*Report
	Files   []string
}

// ReadShardFiles reads shard results: each argument a result file or a
// folder, which stands for the *.json files directly in it (by name;
// hidden files and any merged result in it, e.g. the output of an earlier
// merge written there, left out). A folder with no result in it, or a file
// that is no result, is an error naming it.
func ReadShardFiles(args []string) (*ShardFiles, error) {
	out := &ShardFiles{}
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			r, err := Read(a)
			if err != nil {
				return nil, err
			}
			out.Reports, out.Files = append(out.Reports, r), append(out.Files, a)
			continue
		}
		n, err := out.readDir(a)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: no shard results (*.json) in this folder", a)
		}
	}
	return out, nil
}

// readDir adds the shard results of folder dir; it returns how many.
func (s *ShardFiles) readDir(dir string) (int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var names []string
	for _, e := range ents {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	count := 0
	for _, n := range names {
		path := filepath.Join(dir, n)
		r, err := Read(path)
		if err != nil {
			return 0, err
		}
		if r.Shard == nil && r.Shards != nil {
			continue // an earlier merge's output, beside its shards
		}
		s.Reports, s.Files = append(s.Reports, r), append(s.Files, path)
		count++
	}
	return count, nil
}

// Merge merges the shard results by [MergeShards]; a refusal is a
// *MergeError naming the file at fault.
func (s *ShardFiles) Merge(allowPartial bool) (*Report, error) {
	return mergeShards(s.Reports, s.Files, allowPartial)
}

// ReadResult reads a result file, or a folder of shard results merged (a
// missing shard refused: see [MergeShards]).
func ReadResult(path string) (*Report, error) {
	if !IsShardFolder(path) {
		return Read(path)
	}
	files, err := ReadShardFiles([]string{path})
	if err != nil {
		return nil, err
	}
	return files.Merge(false)
}

// IsShardFolder says whether path is a folder (whose results `wsbench
// report` and `compare` merge first).
func IsShardFolder(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
