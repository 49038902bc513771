# A shell workout for `busybox sh`: run natively and in the sandbox by
# tests/busybox.rs, which compares the output and exit status. Every
# command below is a busybox applet or a shell builtin; nothing reads or
# writes files, so it runs in a rootfs that holds only /bin/busybox.
set -u
say() { echo "[$1] $2"; }

# --- pipelines -----------------------------------------------------------
say pipe "$(echo one two three | busybox tr ' ' '\n' | busybox sort | busybox tr '\n' ' ')"
say pipe "$(busybox seq 1 1000 | busybox grep 7 | busybox wc -l)"
say pipe "$(busybox seq 1 5 | busybox awk '{ s += $1 } END { print s }')"
say pipe "$(printf 'b\na\nc\na\n' | busybox sort | busybox uniq -c | busybox tr -s ' ')"
say pipe "$(busybox yes hello | busybox head -n 3 | busybox tr '\n' ,)"
say pipe "$(busybox seq 1 20000 | busybox tail -n 1)"
# a long pipeline through many processes
say pipe "$(echo x | busybox cat | busybox cat | busybox cat | busybox cat | busybox cat | busybox cat)"
# pipefail is not POSIX; check the status of the last command instead
echo data | busybox false
say pipe "status of a failing tail: $?"

# --- subshells and command substitution ----------------------------------
x=outer
(x=inner; say sub "in subshell x=$x")
say sub "after subshell x=$x"
(exit 42)
say sub "subshell status $?"
nested=$(echo "a$(echo "b$(echo c)")")
say sub "nested substitution $nested"
count=$( (echo 1; echo 2; echo 3) | busybox wc -l)
say sub "grouped output lines $count"
{ echo grouped; echo commands; } | busybox tr a-z A-Z | while read -r w; do say sub "$w"; done

# --- loops and arithmetic ------------------------------------------------
total=0
for i in $(busybox seq 1 100); do total=$((total + i)); done
say arith "sum 1..100 = $total"
n=0
while [ $n -lt 10 ]; do n=$((n + 3)); done
say arith "while stops at $n"
n=10
until [ $n -le 0 ]; do n=$((n - 4)); done
say arith "until stops at $n"
say arith "ops $((7 * 6)) $((100 / 7)) $((100 % 7)) $((1 << 10)) $(( (3 + 4) * 2 )) $((-5 + 2))"
i=0
for a in 1 2 3; do
	for b in x y; do
		i=$((i + 1))
		[ "$b" = y ] && [ "$a" = 2 ] && continue
		[ "$a" = 3 ] && break 2
		say loop "$a$b"
	done
done
say loop "iterations $i"
fact() { if [ "$1" -le 1 ]; then echo 1; else echo $(($1 * $(fact $(($1 - 1))))); fi; }
say arith "10! = $(fact 10)"
fib() { a=0 b=1 k=0; while [ $k -lt "$1" ]; do t=$b; b=$((a + b)); a=$t; k=$((k + 1)); done; echo $a; }
say arith "fib 30 = $(fib 30)"

# --- case, strings and parameters ----------------------------------------
for w in apple banana cherry 42 ""; do
	case "$w" in
	a*) say case "$w starts with a" ;;
	*an*) say case "$w has an" ;;
	[0-9]*) say case "$w is a number" ;;
	"") say case "empty" ;;
	*) say case "$w is something else" ;;
	esac
done
s="hello-world-again"
say str "length ${#s}"
say str "strip prefix ${s#*-}"
say str "strip longest prefix ${s##*-}"
say str "strip suffix ${s%-*}"
say str "strip longest suffix ${s%%-*}"
unset maybe
say str "default ${maybe:-fallback} set ${s:+yes}"
set -- alpha beta gamma
say str "args $# first $1 all $*"
shift
say str "after shift $# $1"
IFS=: read -r f1 f2 f3 <<END
one:two:three
END
say str "read split $f2 $f3 $f1"

# --- here-documents --------------------------------------------------------
busybox cat <<END
[heredoc] expanded $((2 + 3)) and $x
[heredoc] second line
END
busybox cat <<'END'
[heredoc] quoted $x stays $((1+1))
END
busybox tr a-z A-Z <<-END
	[heredoc] tabs stripped
	END
# a document larger than a pipe buffer (the shell forks a writer for it)
big=$(busybox seq 1 3000 | busybox tr '\n' ' ')
lines=$(busybox wc -c <<END
$big
$big
END
)
say heredoc "big document bytes $lines"

# --- background jobs and wait ---------------------------------------------
busybox sleep 0.2 &
p1=$!
(busybox sleep 0.1; exit 3) &
p2=$!
wait $p2
say jobs "second job status $?"
wait $p1
say jobs "first job status $?"
for k in 1 2 3 4; do (exit $k) & done
wait
say jobs "waited for all"
out=$( (echo from-bg) & wait )
say jobs "background output: $out"

# --- traps and kill ------------------------------------------------------
trap 'say trap "caught USR1"' USR1
kill -USR1 $$
say trap "after USR1"
trap 'say trap "caught TERM in subshell"; exit 9' TERM
(trap 'echo "[trap] subshell got TERM"; exit 5' TERM; kill -TERM $(busybox sh -c 'echo $PPID'); busybox sleep 5) 
say trap "subshell status $?"
trap - TERM USR1
busybox sleep 10 &
victim=$!
kill $victim
wait $victim
say trap "killed job status $?"
busybox sleep 10 &
victim=$!
kill -9 $victim
wait $victim
say trap "SIGKILLed job status $?"
( trap 'echo "[trap] EXIT of subshell"' EXIT; echo "[trap] subshell body" )
sh_status=$(busybox sh -c 'kill -SEGV $$'; echo $?)
say trap "a shell killed by SEGV: $sh_status"

# --- applets that fork ----------------------------------------------------
say xargs "$(busybox seq 1 10 | busybox xargs echo)"
say xargs "$(busybox seq 1 7 | busybox xargs -n 3 echo line)"
say xargs "$(echo a b c | busybox xargs -n 1 busybox sh -c 'echo "<$0>"')"
busybox timeout 1 busybox sleep 5
say timeout "timed out: status $?"
busybox timeout 5 busybox true
say timeout "finished in time: status $?"
busybox timeout -s KILL 1 busybox sleep 5
say timeout "killed: status $?"
busybox env -i A=1 B=2 busybox env | busybox sort | while read -r kv; do say env "$kv"; done
busybox sh -c 'echo "[sh] child of a child: $(busybox sh -c "echo deep")"'
echo "[exec] $(exec busybox echo replaced the subshell)"

# --- functions, eval, getopts, printf and test ---------------------------
counter() { local c=0; while [ $c -lt "$1" ]; do c=$((c + 1)); done; echo $c; }
c=outside
say func "counter 25 = $(counter 25), c still $c"
greet() { printf '[func] %s, %s! (%d args)\n' "$1" "$2" $#; }
greet Hello World extra
cmd='say eval "built at run time: $((6 * 7))"'
eval "$cmd"
v1=a v2=b v3=c
for k in 1 2 3; do eval "say eval \"v$k is \$v$k\""; done
parse() {
	OPTIND=1
	while getopts "ab:c" opt "$@"; do
		case $opt in
		a) say getopts "flag a" ;;
		b) say getopts "b with $OPTARG" ;;
		c) say getopts "flag c" ;;
		*) say getopts "bad option" ;;
		esac
	done
	shift $((OPTIND - 1))
	say getopts "rest: $*"
}
parse -a -b value -c one two
parse -x 2>/dev/null
printf '[printf] %5s|%-5s|%05d|%x|%o|%c|%%\n' ab cd 42 255 8 zed
printf '[printf] %s\n' repeated for each word
printf '[printf] %.3s %3.1f\n' truncate 2.25 2>/dev/null || say printf "no float"
for t in "-z ''" "-n x" "3 -gt 2" "abc = abc" "1 -eq 2" "! -z q"; do
	if eval "[ $t ]"; then say test "$t: true"; else say test "$t: false"; fi
done
say test "$(command -v busybox >/dev/null && echo found busybox)"
(set -e; busybox false; echo "never printed") 
say status "set -e subshell stopped: $?"
lines=0
while read -r line; do lines=$((lines + 1)); say read "$lines: $line"; done <<END
first line
second line with  spaces
third
END

# --- exit status --------------------------------------------------------------
f() { return 17; }
f
say status "function returned $?"
! busybox false
say status "negated $?"
busybox true && say status "and-list ran"
busybox false || say status "or-list ran"
busybox false && say status "never printed"
say status "last"
exit 3
