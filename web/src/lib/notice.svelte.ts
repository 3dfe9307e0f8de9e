// One polite live region for the outcome of actions (errors and confirmations).
class Notice {
  text = $state('');
  kind = $state<'info' | 'error'>('info');
  #serial = 0;

  show(text: string, kind: 'info' | 'error' = 'info'): void {
    this.#serial += 1;
    this.text = text;
    this.kind = kind;
  }

  clear(): void {
    this.text = '';
  }
}

export const notice = new Notice();
