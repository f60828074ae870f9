// Command rename rewrites a Go module in place without changing what it means: the
// meaning-preserving rewrites of bench/accuracy.sh's rename run (ACCURACY.md, "Renames").
//
//	rename -mode locals DIR   every local variable, parameter, named result and receiver
//	rename -mode types DIR    every exported package-level type, module-wide
//	rename -mode escape DIR   as locals, plus exactly one real new heap allocation
//	rename -mode moves DIR    every second function of each file moved to a new file
//	                          of the same package, the others written in reverse order
//	rename -mode moves-escape DIR   as moves, plus the escape mode's one new allocation
//
// DIR is a module root; every package of the module (`./...`, for the host's GOOS and
// GOARCH, test files left out) is loaded with go/packages and type-checked, and the
// identifiers are rewritten at the positions go/types resolves: declarations and uses,
// nothing else. A new name is the old one with a suffix that no identifier of the
// module has, so no rename can capture or shadow another name.
//
// The escape mode adds, to the largest non-generic function of the module (by syntax
// nodes, far beyond what the compiler inlines, so no caller gets a copy), a first
// statement that stores a new 64-byte array in a new package-level variable: the
// compiler reports `new([64]byte) escapes to heap` there, once.
//
// The moves modes rename nothing; see moves (moves.go) for what moves where.
//
// It prints what it did (counts) on stderr and exits non-zero on any load or type error.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

type edit struct {
	offset int
	old    string
	new    string
}

func main() {
	mode := flag.String("mode", "locals", "locals, types, escape, moves or moves-escape")
	flag.Parse()
	modes := map[string]bool{"locals": true, "types": true, "escape": true, "moves": true, "moves-escape": true}
	if flag.NArg() != 1 || !modes[*mode] {
		fmt.Fprintln(os.Stderr, "usage: rename -mode locals|types|escape|moves|moves-escape DIR")
		os.Exit(2)
	}
	dir, err := filepath.Abs(flag.Arg(0))
	check(err)
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles |
			packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo,
		Dir:   dir,
		Tests: false,
	}
	pkgs, err := packages.Load(cfg, "./...")
	check(err)
	if packages.PrintErrors(pkgs) > 0 {
		fmt.Fprintln(os.Stderr, "rename: the module does not type-check")
		os.Exit(1)
	}
	// Every identifier of the module, so that a new name is fresh.
	names := map[string]bool{}
	for _, p := range pkgs {
		for _, f := range p.Syntax {
			ast.Inspect(f, func(n ast.Node) bool {
				if id, ok := n.(*ast.Ident); ok {
					names[id.Name] = true
				}
				return true
			})
		}
	}
	suffix := "Rn"
	for taken(names, suffix) {
		suffix += "n"
	}

	renamed := map[types.Object]bool{}
	switch *mode {
	case "locals", "escape":
		for _, p := range pkgs {
			for _, obj := range p.TypesInfo.Defs {
				if v, ok := obj.(*types.Var); ok && isLocal(v) {
					renamed[v] = true
				}
			}
			for _, obj := range p.TypesInfo.Implicits {
				if v, ok := obj.(*types.Var); ok && isLocal(v) {
					renamed[v] = true
				}
			}
		}
		// Parameters of functions without a body are named by assembly: left alone.
		for _, p := range pkgs {
			for _, f := range p.Syntax {
				for _, d := range f.Decls {
					fd, ok := d.(*ast.FuncDecl)
					if !ok || fd.Body != nil {
						continue
					}
					ast.Inspect(fd.Type, func(n ast.Node) bool {
						if id, ok := n.(*ast.Ident); ok {
							delete(renamed, p.TypesInfo.Defs[id])
						}
						return true
					})
				}
			}
		}
	case "types":
		asm := asmText(pkgs)
		for _, p := range pkgs {
			scope := p.Types.Scope()
			for _, name := range scope.Names() {
				tn, ok := scope.Lookup(name).(*types.TypeName)
				// go_asm.h names a package's types (T__size, T_field): those stay.
				if ok && tn.Exported() && !tn.IsAlias() && !strings.Contains(asm[p.PkgPath], name) {
					renamed[tn] = true
				}
			}
		}
		// A field embedded by a renamed type is named after it.
		for _, p := range pkgs {
			for id, obj := range p.TypesInfo.Defs {
				v, ok := obj.(*types.Var)
				if !ok || !v.Embedded() {
					continue
				}
				if tn, ok := p.TypesInfo.Uses[id].(*types.TypeName); ok && renamed[origin(tn)] {
					renamed[v] = true
				}
			}
		}
	}

	edits := map[string][]edit{}
	count := 0
	for _, p := range pkgs {
		seen := map[token.Pos]bool{}
		add := func(id *ast.Ident, obj types.Object) {
			if obj == nil || !renamed[origin(obj)] || seen[id.Pos()] || id.Name == "_" {
				return
			}
			seen[id.Pos()] = true
			tf := p.Fset.File(id.Pos())
			file := tf.Name()
			edits[file] = append(edits[file], edit{tf.Offset(id.Pos()), id.Name, id.Name + suffix})
			count++
		}
		for _, f := range p.Syntax {
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.Ident:
					if obj := p.TypesInfo.Defs[n]; obj != nil {
						add(n, obj)
					} else if obj := p.TypesInfo.Uses[n]; obj != nil {
						add(n, obj)
					}
				case *ast.TypeSwitchStmt:
					// `switch x := v.(type)`: x is declared once per clause, implicitly.
					if as, ok := n.Assign.(*ast.AssignStmt); ok && len(as.Lhs) == 1 {
						if id, ok := as.Lhs[0].(*ast.Ident); ok {
							for _, c := range n.Body.List {
								if obj := p.TypesInfo.Implicits[c]; obj != nil {
									add(id, obj)
									break
								}
							}
						}
					}
				}
				return true
			})
		}
	}
	if *mode == "escape" || *mode == "moves-escape" {
		addEscape(pkgs, suffix, edits)
	}
	if *mode == "moves" || *mode == "moves-escape" {
		out, st := moves(pkgs, dir, edits)
		names := make([]string, 0, len(out))
		for f := range out {
			names = append(names, f)
		}
		sort.Strings(names)
		for _, f := range names {
			perm := os.FileMode(0o644)
			if info, err := os.Stat(f); err == nil {
				perm = info.Mode().Perm()
			}
			check(os.WriteFile(f, out[f], perm))
		}
		fmt.Fprintf(os.Stderr, "rename -mode %s: %d functions moved out of %d files, %d left in reverse order (%d files left alone)\n",
			*mode, st.moved, st.files, st.reordered, st.skipped)
	}
	files := make([]string, 0, len(edits))
	for f := range edits {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, file := range files {
		src, err := os.ReadFile(file)
		check(err)
		es := edits[file]
		sort.Slice(es, func(i, j int) bool { return es[i].offset > es[j].offset })
		for _, e := range es {
			if !bytes.HasPrefix(src[e.offset:], []byte(e.old)) {
				fmt.Fprintf(os.Stderr, "rename: %s:%d: expected %q\n", file, e.offset, e.old)
				os.Exit(1)
			}
			src = append(src[:e.offset], append([]byte(e.new), src[e.offset+len(e.old):]...)...)
		}
		info, err := os.Stat(file)
		check(err)
		check(os.WriteFile(file, src, info.Mode().Perm()))
	}
	objs := 0
	for range renamed {
		objs++
	}
	if objs == 0 && (*mode == "moves" || *mode == "moves-escape") {
		return
	}
	fmt.Fprintf(os.Stderr, "rename -mode %s: %d names, %d identifiers in %d files (suffix %q)\n",
		*mode, objs, count, len(files), suffix)
}

func taken(names map[string]bool, suffix string) bool {
	for n := range names {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	return false
}

// isLocal: a variable of a function (local, parameter, result, receiver), not a field
// or a package-level variable.
func isLocal(v *types.Var) bool {
	if v.IsField() || v.Pkg() == nil || v.Parent() == nil {
		return false
	}
	return v.Parent() != v.Pkg().Scope() && v.Parent() != types.Universe
}

// origin: the generic declaration of an instantiated object.
func origin(obj types.Object) types.Object {
	switch o := obj.(type) {
	case *types.Var:
		return o.Origin()
	case *types.Func:
		return o.Origin()
	}
	return obj
}

// asmText: the assembly of each package, for the names it takes from go_asm.h.
func asmText(pkgs []*packages.Package) map[string]string {
	out := map[string]string{}
	for _, p := range pkgs {
		for _, f := range p.OtherFiles {
			if strings.HasSuffix(f, ".s") {
				b, err := os.ReadFile(f)
				check(err)
				out[p.PkgPath] += string(b)
			}
		}
	}
	return out
}

// addEscape: one new heap allocation, in the largest non-generic function with a body.
func addEscape(pkgs []*packages.Package, suffix string, edits map[string][]edit) {
	var best *ast.FuncDecl
	var bestPkg *packages.Package
	bestSize := 0
	for _, p := range pkgs {
		for _, f := range p.Syntax {
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Body == nil || len(fd.Body.List) == 0 || fd.Type.TypeParams != nil || isGenericRecv(fd) {
					continue
				}
				size := 0
				ast.Inspect(fd.Body, func(ast.Node) bool { size++; return true })
				if size > bestSize {
					best, bestPkg, bestSize = fd, p, size
				}
			}
		}
	}
	if best == nil {
		fmt.Fprintln(os.Stderr, "rename: no function to add an escape to")
		os.Exit(1)
	}
	sink := "escapeSink" + suffix
	tf := bestPkg.Fset.File(best.Pos())
	file := tf.Name()
	// After the body's `{`: a statement of its own line, and the variable at the end
	// of the file.
	at := tf.Offset(best.Body.Lbrace) + 1
	edits[file] = append(edits[file],
		edit{at, "", "\n\t" + sink + " = new([64]byte)"},
		edit{tf.Size(), "", "\nvar " + sink + " interface{}\n"})
	pos := bestPkg.Fset.Position(best.Body.Lbrace)
	fmt.Fprintf(os.Stderr, "rename: one new escape in %s (%s:%d, %d syntax nodes)\n",
		best.Name.Name, pos.Filename, pos.Line+1, bestSize)
}

func isGenericRecv(fd *ast.FuncDecl) bool {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return false
	}
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch t.(type) {
	case *ast.IndexExpr, *ast.IndexListExpr:
		return true
	}
	return false
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "rename:", err)
		os.Exit(1)
	}
}
