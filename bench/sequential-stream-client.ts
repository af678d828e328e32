// The client of bench/upstream-request-cpu.ts, run as a child process so that its CPU is not
// counted with the server's: streamed chat completions one after the other, each read to its end.
// Takes SequentialJobs over IPC, one at a time, and answers each with the number of answers read.
import { Agent, request } from 'undici';
import { QUESTIONS } from './completion-stream.ts';

export interface SequentialJob {
  /** Ending in /v1. */
  baseUrl: string;
  apiKey: string;
  model: string;
  requests: number;
  maxTokens: number;
}

export async function runSequential(job: SequentialJob): Promise<number> {
  const agent = new Agent({ connections: 1 });
  try {
    for (let i = 0; i < job.requests; i++) {
      const response = await request(`${job.baseUrl}/chat/completions`, {
        method: 'POST',
        dispatcher: agent,
        headers: { authorization: `Bearer ${job.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: job.model,
          messages: [{ role: 'user', content: QUESTIONS[i % QUESTIONS.length] }],
          max_tokens: job.maxTokens,
          stream: true,
          stream_options: { include_usage: true },
        }),
      });
      const text = await response.body.text();
      if (response.statusCode !== 200 || !text.endsWith('data: [DONE]\n\n'))
        throw new Error(`answer ${i} failed (${response.statusCode}): ${text.slice(0, 300)}`);
    }
    return job.requests;
  } finally {
    await agent.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.on('disconnect', () => process.exit(1));
  process.on('message', (job: SequentialJob) => {
    runSequential(job).then(
      (answers) => process.send?.({ answers }),
      (err: unknown) => process.send?.({ error: String((err as Error).stack ?? err) }, () => process.exit(1)),
    );
  });
}
