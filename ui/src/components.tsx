import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { STATUS_HELP, STATUS_LABEL, type Status } from './format';

const STATUS_ICON: Record<Status, string> = {
  ACTIVE: '✓',
  EXPIRING: '◔',
  EXPIRED: '○',
  PENDING_GRANT: '…',
  THROTTLED: '‖',
  FAILED: '✕',
};

/** A status as a coloured badge with an icon and a word (never colour alone). */
export function StatusBadge({ status }: { status: Status }) {
  return (
    <span class={`badge badge-${status.toLowerCase()}`} title={STATUS_HELP[status]}>
      <span aria-hidden="true">{STATUS_ICON[status]}</span> {STATUS_LABEL[status]}
    </span>
  );
}

export function Notice({ kind, children }: { kind: 'error' | 'ok' | 'info'; children: ComponentChildren }) {
  return (
    <p class={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </p>
  );
}

/** A modal confirmation (the native `<dialog>`: focus kept inside, Escape cancels). */
export function Confirm(props: { title: string; body: string; action: string; danger?: boolean; onConfirm: () => void; onCancel: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current!;
    if (!d.open) d.showModal();
    const cancel = (e: Event) => {
      e.preventDefault();
      props.onCancel();
    };
    d.addEventListener('cancel', cancel);
    return () => d.removeEventListener('cancel', cancel);
  }, []);
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" class="confirm">
      <h2 id="confirm-title">{props.title}</h2>
      <p>{props.body}</p>
      <div class="actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="button" class={props.danger ? 'danger' : 'primary'} onClick={props.onConfirm}>
          {props.action}
        </button>
      </div>
    </dialog>
  );
}
