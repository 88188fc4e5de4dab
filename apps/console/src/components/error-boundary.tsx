import { Component, type ErrorInfo, type ReactNode } from 'react';
import { Button, Result } from 'antd';
import { useI18n } from '../i18n';

function CrashResult({ error, onReset }: { error: Error; onReset: () => void }) {
  const { t } = useI18n();
  return (
    <Result
      status="error"
      title={t('common.crashTitle')}
      subTitle={t('common.crashText', { message: error.message })}
      extra={
        <Button type="primary" onClick={onReset}>
          {t('common.retry')}
        </Button>
      }
    />
  );
}

interface Props {
  children: ReactNode;
  /** Changing it (e.g. the route path) clears a previous crash. */
  resetKey?: string;
}

interface State {
  error: Error | null;
  resetKey: string | undefined;
}

/** Renders a failed page as an error result instead of unmounting the whole console. */
export class ErrorBoundary extends Component<Props, State> {
  override state: State = { error: null, resetKey: this.props.resetKey };

  static getDerivedStateFromError(error: unknown): Partial<State> {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  static getDerivedStateFromProps(props: Props, state: State): Partial<State> | null {
    return props.resetKey !== state.resetKey ? { error: null, resetKey: props.resetKey } : null;
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error('Siyu console: a page crashed', error, info.componentStack);
  }

  override render(): ReactNode {
    if (this.state.error) return <CrashResult error={this.state.error} onReset={() => this.setState({ error: null })} />;
    return this.props.children;
  }
}
