#!/usr/bin/env bash
# Hand-run smoke test of fake_llm with curl: ./selfcheck.sh path/to/fake_llm
# Starts it on a free loopback port, checks every API once, stops it.
set -euo pipefail
BIN=${1:?usage: selfcheck.sh path/to/fake_llm}
TMP=$(mktemp -d)
"$BIN" --port 0 --record --chunk-delay-ms 20 >"$TMP/port" 2>"$TMP/err" &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
PORT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["port"])' "$TMP/port")
B=http://127.0.0.1:$PORT
G=$B/v1beta/models/gemini-test
K=(-H 'x-goog-api-key: test-key' -H 'Content-Type: application/json')
fail=0
check() {  # name, python expression over `d` (parsed JSON) or `t` (text)
  local name=$1 expr=$2 body=$3
  if python3 -c "import json,sys; t=sys.stdin.read()
try: d=json.loads(t)
except Exception: d=None
sys.exit(0 if ($expr) else 1)" <<<"$body"; then echo "ok   $name"; else echo "FAIL $name: $body"; fail=1; fi
}
q() { curl -sS -m 10 "$@"; }

check gemini-text 'd["candidates"][0]["content"]["parts"][0]["text"]=="Gemini says: hi there" and d["usageMetadata"]["totalTokenCount"]>0' \
  "$(q "${K[@]}" $G:generateContent -d '{"contents":[{"role":"user","parts":[{"text":"hi "},{"text":"there"}]}]}')"
check gemini-no-key 'd["error"]["status"]=="PERMISSION_DENIED"' "$(q $G:generateContent -d '{}')"
check gemini-stream 't.count("data: ")>=3 and "\r\n\r\n" in t and t.rstrip().endswith("}") and "finishReason" in t.split("data: ")[-1]' \
  "$(q -N "${K[@]}" "$G:streamGenerateContent?alt=sse" -d '{"contents":[{"parts":[{"text":"a b c"}]}]}')"
check gemini-tool 'd["candidates"][0]["content"]["parts"][0]["functionCall"]["name"]=="getWeather"' \
  "$(q "${K[@]}" $G:generateContent -d '{"contents":[{"parts":[{"text":"w"}]}],"tools":[{"functionDeclarations":[{"name":"getWeather"}]}]}')"
check gemini-schema 'json.loads(d["candidates"][0]["content"]["parts"][0]["text"])=={"n":"fake","k":3,"b":True,"l":["fake"]}' \
  "$(q "${K[@]}" $G:generateContent -d '{"contents":[{"parts":[{"text":"j"}]}],"generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"OBJECT","properties":{"n":{"type":"STRING"},"k":{"type":"INTEGER","minimum":3},"b":{"type":"BOOLEAN"},"l":{"type":"ARRAY","items":{"type":"STRING"}}}}}}')"
check openai-text 'd["choices"][0]["message"]["content"]=="OpenAI says: look" and d["usage"]["total_tokens"]>0' \
  "$(q $B/v1/chat/completions -H 'Authorization: Bearer sk-test' -d '{"model":"gpt","messages":[{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"x"}}]}]}')"
check openai-stream 't.rstrip().endswith("data: [DONE]") and "\"usage\":{" in t and "\"finish_reason\":\"stop\"" in t' \
  "$(q -N $B/v1/chat/completions -d '{"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x y"}]}')"
check openai-tool 'd["choices"][0]["message"]["tool_calls"][0]["function"]=={"name":"lookup","arguments":"{}"}' \
  "$(q $B/openai/v1/chat/completions -d '{"tools":[{"type":"function","function":{"name":"lookup"}}],"messages":[{"role":"user","content":"q"}]}')"
check openai-schema 'json.loads(d["choices"][0]["message"]["content"])=={"a":1}' \
  "$(q $B/v1/chat/completions -d '{"response_format":{"type":"json_schema","json_schema":{"schema":{"type":"object","properties":{"a":{"type":"integer"}}}}},"messages":[{"role":"user","content":"q"}]}')"

q -X POST $B/_script -d '[{"status":429},{"garbage":true},{"text":"exact"},{"stream_chunks":["a","b"]},{"json":{"x":1}},{"function_call":{"name":"f","args":{"k":2}}}]' >/dev/null
check script-429 'd["error"]["status"]=="RESOURCE_EXHAUSTED"' "$(q "${K[@]}" $G:generateContent -d '{}')"
check script-garbage 'd is None' "$(q $B/v1/chat/completions -d '{}')"
check script-text 'd["choices"][0]["message"]["content"]=="exact"' "$(q $B/v1/chat/completions -d '{}')"
check script-chunks 't.count("\"text\":\"a\"")==1 and t.count("\"text\":\"b\"")==1' "$(q -N "${K[@]}" "$G:streamGenerateContent?alt=sse" -d '{}')"
check script-json 'd["choices"][0]["message"]["content"]=="{\"x\":1}"' "$(q $B/v1/chat/completions -d '{}')"
check script-call 'd["candidates"][0]["content"]["parts"][0]["functionCall"]=={"name":"f","args":{"k":2}}' "$(q "${K[@]}" $G:generateContent -d '{}')"
q -X POST $B/_script -d '[{"hang":true}]' >/dev/null
curl -s -m 0.3 $B/v1/chat/completions -d '{"messages":[]}' >/dev/null || true
sleep 0.1
check record 'd[-1]["client_closed"] and not d[-1]["finished"] and d[0]["headers"]["x-goog-api-key"]=="test-key"' "$(q $B/_requests)"
check media-png 't.startswith("200 image/png")' "$(q -o /dev/null -w '%{http_code} %{content_type}' $B/media/cat.png)"
check media-big 't.strip()=="200 31457280"' "$(q -o /dev/null -w '%{http_code} %{size_download}' $B/media/big.bin)"
q -X POST $B/v1/traces -H 'Content-Type: application/json' -d '{"resourceSpans":[]}' >/dev/null
check traces 'd==[{"resourceSpans":[]}]' "$(q $B/_traces)"
kill -TERM $PID
wait $PID && echo "ok   exit-0" || { echo "FAIL exit $?"; fail=1; }
exit $fail
