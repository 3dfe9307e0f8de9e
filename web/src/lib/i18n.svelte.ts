// One catalog per locale; English first. The locale comes from the person's choice, else
// the browser's languages, else English.
import { de } from './messages.de';
import { en, type Catalog, type Key } from './messages.en';

export const LOCALES = { en: 'English', de: 'Deutsch' } as const;
export type Locale = keyof typeof LOCALES;

const CATALOGS: Record<Locale, Catalog> = { en, de };
const LOCALE_KEY = 'meimages.locale';

function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && value in LOCALES;
}

function initialLocale(): Locale {
  try {
    const saved = window.localStorage.getItem(LOCALE_KEY);
    if (isLocale(saved)) return saved;
  } catch {
    /* storage disabled */
  }
  for (const language of navigator.languages ?? [navigator.language]) {
    const base = language.toLowerCase().split('-')[0];
    if (isLocale(base)) return base;
  }
  return 'en';
}

class I18n {
  locale = $state<Locale>(initialLocale());

  set(locale: Locale): void {
    this.locale = locale;
    document.documentElement.lang = locale;
    try {
      window.localStorage.setItem(LOCALE_KEY, locale);
    } catch {
      /* storage disabled */
    }
  }
}

export const i18n = new I18n();
document.documentElement.lang = i18n.locale;

export function t(key: Key, params: Record<string, string | number> = {}): string {
  const text = CATALOGS[i18n.locale][key] ?? en[key];
  return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

export function formatBytes(bytes: number): string {
  const number = new Intl.NumberFormat(i18n.locale, { maximumFractionDigits: 1 });
  if (bytes < 1024 * 1024) return `${number.format(Math.max(1, Math.round(bytes / 1024)))} KB`;
  return `${number.format(bytes / (1024 * 1024))} MB`;
}

export function formatDate(iso: string): string {
  return new Intl.DateTimeFormat(i18n.locale, { dateStyle: 'medium', timeStyle: 'short' }).format(
    new Date(iso),
  );
}

export type { Key };
