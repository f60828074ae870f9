package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

// moveStats: what the moves mode did, for the summary line.
type moveStats struct {
	files, moved, reordered, skipped int
}

// moves rewrites the files of the module that the host's build compiles: in each file,
// every second top-level function or method (with its doc comment and directives)
// moves into a new file of the same package, and the functions left behind are
// written in the reverse order. Nothing else moves: variables, constants and types keep
// their order (initialisation order), and `init` functions stay where they are (the
// order of two `init`s is the order they run in).
//
// The new file is compiled under exactly the same build constraints as its source: it
// copies the `//go:build` and `// +build` lines and is named `zzmoved` + the source's
// name, so the name's `_GOOS`/`_GOARCH` elements stay its last ones, and its first
// element (which the go command ignores) is no GOOS or GOARCH (`amd64.go` and
// `linux_amd64.go` are constrained differently from `x_amd64.go`). Each file gets the
// imports its declarations use, from go/types (an import's name is the package
// clause's, not the path's last element). Files left alone: generated files, cgo files
// (`import "C"`), files with a dot import or a `//line` directive. A function with a
// `//go:linkname` directive does not move (it needs `import _ "unsafe"` in its file).
//
// edits are the other rewrites of the run (the escape mode's new allocation): each is
// applied where it falls, so it moves with its function. The edits of the files
// rewritten here are removed from the map; the caller applies the rest. The result is
// the new content of every file to write, gofmt-formatted.
func moves(pkgs []*packages.Package, dir string, edits map[string][]edit) (map[string][]byte, moveStats) {
	out := map[string][]byte{}
	var st moveStats
	for _, p := range pkgs {
		for _, f := range p.Syntax {
			file := p.Fset.File(f.Pos()).Name()
			if rel, err := filepath.Rel(dir, file); err != nil || strings.HasPrefix(rel, "..") ||
				!strings.HasSuffix(file, ".go") || strings.HasSuffix(file, "_test.go") {
				continue
			}
			if !movable(f) {
				st.skipped++
				continue
			}
			src, err := os.ReadFile(file)
			check(err)
			orig, moved, n, r := moveFile(p, f, src, edits[file])
			if n == 0 {
				continue
			}
			target := filepath.Join(filepath.Dir(file), "zzmoved"+filepath.Base(file))
			if _, err := os.Stat(target); err == nil || out[target] != nil {
				fmt.Fprintf(os.Stderr, "rename: %s exists already\n", target)
				os.Exit(1)
			}
			out[file] = gofmt(file, orig)
			out[target] = gofmt(target, moved)
			delete(edits, file)
			st.files++
			st.moved += n
			st.reordered += r
		}
	}
	return out, st
}

// movable: whether moveFile may rewrite the file (see moves).
func movable(f *ast.File) bool {
	if ast.IsGenerated(f) {
		return false
	}
	for _, spec := range f.Imports {
		if spec.Path.Value == `"C"` || (spec.Name != nil && spec.Name.Name == ".") {
			return false
		}
	}
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if strings.HasPrefix(c.Text, "//line ") || strings.HasPrefix(c.Text, "/*line ") {
				return false
			}
		}
	}
	return true
}

// moveFile: the file with every second function removed and the others reversed, the
// new file with the removed ones, the number moved and the number left (reordered).
func moveFile(p *packages.Package, f *ast.File, src []byte, es []edit) (orig, moved []byte, nMoved, nKept int) {
	tf := p.Fset.File(f.Pos())
	off := func(n ast.Node) int { return tf.Offset(n.Pos()) }
	end := func(n ast.Node) int { return tf.Offset(n.End()) }
	// piece: src[a:b] with the edits that fall in it (an edit at the end of the file
	// belongs to the last piece).
	piece := func(a, b int) []byte {
		var in []edit
		for _, e := range es {
			if e.offset >= a && (e.offset < b || (e.offset == b && b == len(src))) {
				in = append(in, e)
			}
		}
		sort.Slice(in, func(i, j int) bool { return in[i].offset > in[j].offset })
		s := append([]byte(nil), src[a:b]...)
		for _, e := range in {
			o := e.offset - a
			if !bytes.HasPrefix(s[o:], []byte(e.old)) {
				fmt.Fprintf(os.Stderr, "rename: %s:%d: expected %q\n", tf.Name(), e.offset, e.old)
				os.Exit(1)
			}
			s = append(s[:o], append([]byte(e.new), s[o+len(e.old):]...)...)
		}
		return s
	}

	var fns []*ast.FuncDecl
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && !(fd.Recv == nil && fd.Name.Name == "init") {
			fns = append(fns, fd)
		}
	}
	isMoved := map[*ast.FuncDecl]bool{}
	var movedFns, kept []*ast.FuncDecl
	for i, fd := range fns {
		if i%2 == 1 && !hasDirective(fd, "//go:linkname") {
			isMoved[fd] = true
			movedFns = append(movedFns, fd)
		} else {
			kept = append(kept, fd)
		}
	}
	if len(movedFns) == 0 {
		return nil, nil, 0, 0
	}
	start := func(fd *ast.FuncDecl) int {
		if fd.Doc != nil {
			return off(fd.Doc)
		}
		return off(fd)
	}

	// The imports: which of the file's imports each side uses.
	specOf := map[types.Object]*ast.ImportSpec{}
	for _, spec := range f.Imports {
		var obj types.Object
		if spec.Name != nil {
			obj = p.TypesInfo.Defs[spec.Name]
		} else {
			obj = p.TypesInfo.Implicits[spec]
		}
		if obj != nil {
			specOf[obj] = spec
		}
	}
	uses := func(n ast.Node, into map[*ast.ImportSpec]bool) {
		ast.Inspect(n, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok {
				if pn, ok := p.TypesInfo.Uses[id].(*types.PkgName); ok && specOf[pn] != nil {
					into[specOf[pn]] = true
				}
			}
			return true
		})
	}
	movedUses, keptUses := map[*ast.ImportSpec]bool{}, map[*ast.ImportSpec]bool{}
	for _, d := range f.Decls {
		if gd, ok := d.(*ast.GenDecl); ok && gd.Tok.String() == "import" {
			continue
		}
		if fd, ok := d.(*ast.FuncDecl); ok && isMoved[fd] {
			uses(fd, movedUses)
		} else {
			uses(d, keptUses)
		}
	}

	// The original file: spans replaced in place (a moved function by nothing, the
	// i-th kept function by the i-th from the end, an unused import by nothing).
	type span struct {
		a, b int
		text []byte
	}
	var spans []span
	for i, fd := range kept {
		other := kept[len(kept)-1-i]
		spans = append(spans, span{start(fd), end(fd), piece(start(other), end(other))})
	}
	for _, fd := range movedFns {
		spans = append(spans, span{start(fd), end(fd), nil})
	}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok.String() != "import" {
			continue
		}
		var drop []ast.Spec
		for _, s := range gd.Specs {
			spec := s.(*ast.ImportSpec)
			blank := spec.Name != nil && spec.Name.Name == "_"
			if !blank && !keptUses[spec] {
				drop = append(drop, s)
			}
		}
		if len(drop) == len(gd.Specs) {
			spans = append(spans, span{off(gd), end(gd), nil})
			continue
		}
		for _, s := range drop {
			spans = append(spans, span{off(s), end(s), nil})
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].a < spans[j].a })
	var o bytes.Buffer
	at := 0
	for _, s := range spans {
		if s.a < at {
			fmt.Fprintf(os.Stderr, "rename: %s: overlapping declarations at offset %d\n", tf.Name(), s.a)
			os.Exit(1)
		}
		o.Write(piece(at, s.a))
		o.Write(s.text)
		at = s.b
	}
	o.Write(piece(at, len(src)))

	// The new file: the same build constraints, package and the imports it uses.
	var m bytes.Buffer
	for _, cg := range f.Comments {
		if cg.End() >= f.Package {
			break
		}
		for _, c := range cg.List {
			if strings.HasPrefix(c.Text, "//go:build") || strings.HasPrefix(c.Text, "// +build") {
				m.WriteString(c.Text + "\n")
			}
		}
	}
	m.WriteString("\npackage " + f.Name.Name + "\n")
	var imps []string
	for spec := range movedUses {
		imps = append(imps, string(src[off(spec):end(spec)]))
	}
	sort.Strings(imps)
	if len(imps) > 0 {
		m.WriteString("\nimport (\n")
		for _, s := range imps {
			m.WriteString("\t" + s + "\n")
		}
		m.WriteString(")\n")
	}
	for _, fd := range movedFns {
		m.WriteString("\n")
		m.Write(piece(start(fd), end(fd)))
		m.WriteString("\n")
	}
	return o.Bytes(), m.Bytes(), len(movedFns), len(kept)
}

// hasDirective: whether the function's doc comment group holds the directive.
func hasDirective(fd *ast.FuncDecl, directive string) bool {
	if fd.Doc == nil {
		return false
	}
	for _, c := range fd.Doc.List {
		if strings.HasPrefix(c.Text, directive) {
			return true
		}
	}
	return false
}

func gofmt(file string, src []byte) []byte {
	b, err := format.Source(src)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rename: %s: the rewrite does not parse: %v\n", file, err)
		os.Exit(1)
	}
	return b
}
