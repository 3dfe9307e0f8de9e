// The outcome of an action (an error or a confirmation), shown next to the control that
// caused it: `anchor` names that place (an image id, a panel); without one it shows at
// the top of the page. Each place is a polite live region, so screen readers hear it too.
class Notice {
  text = $state('');
  kind = $state<'info' | 'error'>('info');
  anchor = $state('');
  #serial = 0;

  show(text: string, kind: 'info' | 'error' = 'info', anchor = ''): void {
    this.#serial += 1;
    this.text = text;
    this.kind = kind;
    this.anchor = anchor;
  }

  /** The text for one place, or '' when the current notice belongs elsewhere. */
  at(anchor: string): string {
    return this.anchor === anchor ? this.text : '';
  }

  clear(): void {
    this.text = '';
    this.anchor = '';
  }
}

export const notice = new Notice();
