using Bench;

// vellum-bench: a serving benchmark in the manner of `vllm bench serve`, and the bare generate loop it is compared with.
return args.FirstOrDefault() switch
{
    "serve" => await ServeBenchmark.RunAsync(BenchArgs.Parse(args[1..])),
    "generate" => GenerateBenchmark.Run(BenchArgs.Parse(args[1..])),
    "step-profile" => await StepProfileBenchmark.RunAsync(BenchArgs.Parse(args[1..])),
    "soak" => await SoakBenchmark.RunAsync(BenchArgs.Parse(args[1..])),
    "stop-strings" => await StopStringsBenchmark.RunAsync(BenchArgs.Parse(args[1..])),
    "long-prompt" => await LongPromptBenchmark.RunAsync(BenchArgs.Parse(args[1..])),
    "kv-transfer" => await KvTransferBenchmark.RunAsync(BenchArgs.Parse(args[1..])),
    "mixed-load" => await MixedLoadBenchmark.RunAsync(BenchArgs.Parse(args[1..])),
    "multi-turn" => await MultiTurnBenchmark.RunAsync(BenchArgs.Parse(args[1..])),
    "exposition" => await ExpositionBenchmark.RunAsync(BenchArgs.Parse(args[1..])),
    "scrape" => await ScrapeBenchmark.RunAsync(BenchArgs.Parse(args[1..])),
    "structured-output" => await StructuredOutputBenchmark.RunAsync(BenchArgs.Parse(args[1..])),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage:
          vellum-bench serve    --base-url URL --model NAME [--num-prompts 100] [--max-concurrency C | --request-rate R]
                                [--input-words 32] [--output-len 128] [--endpoint completions|chat] [--seed 0] [--result-file F]
                                [--dataset random|repeat] [--scrape-url URL --scrape-rate 20 --scrape-format text|openmetrics]
                                [--long-fraction F --long-output-len N]   (a skewed workload) [--prompt-seed S] [--num-warmups N] [--temperature T]
          vellum-bench generate --model-dir DIR [--num-prompts 1] [--input-words 32] [--output-len 128] [--prompt-seed 0]   (all prompts batched)
          vellum-bench step-profile --model-dir DIR [--batch 8] [--output-len 256] [--rounds 2]   (bare loop vs engine, per step, no HTTP)
          vellum-bench soak     --base-url URL --model NAME --pid WORKER_PID [--minutes 10] [--concurrency 8] [--sleep-every 30]
                                [--warmup-seconds 60] [--output-len 64]   (the worker needs VLLM_SERVER_DEV_MODE=1)
          vellum-bench stop-strings --base-url URL --model NAME [--stop-strings 100000 (0: none)] [--n 16 (0: alone)] [--samples 15]
          vellum-bench long-prompt --base-url URL --model NAME [--streams 4] [--long-words 670] [--seed 1]
          vellum-bench kv-transfer --prefill-url URL --decode-url URL --model NAME [--prompt-words 100,300,700] [--rounds 3]
          vellum-bench multi-turn --base-url URL --model NAME --tokenize-url WORKER/tokenize [--chats 6] [--turns 4] [--question-words 40] [--output-len 16] [--seed 1]
          vellum-bench exposition --base-url URL --pid WORKER_PID [--count 2000] [--filter NAME,NAME…] [--python /usr/bin/python3]
                                (worker CPU per scrape from /proc: filtered poll, full page; prometheus_client on the same page)
          vellum-bench scrape   --url URL [--rate 20] [--format text|openmetrics]   (polls until SIGTERM from a process of its own, then
                                prints p50/p99: a scraper's view, not the load generator's; bench/lib.sh's scrape_while)
          vellum-bench structured-output --model-dir DIR [--batch 8] [--output-len 128] [--rounds 4] [--tokenizer-dir DIR [--tokens 256]]
                                (mask time per step at batch 8 vs unconstrained steps, no HTTP; per token over a large vocabulary)
          vellum-bench mixed-load --base-url URL --model NAME [--streams 4] [--output-len 300] [--long-prompts 6] [--long-words 500] [--interval-s 2]
        """);
    return 2;
}
