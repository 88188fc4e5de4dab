import { Tooltip, Typography } from 'antd';
import { Link } from 'react-router-dom';
import { shortId } from '../format';

/** Link to a profile's detail page, showing a shortened id (full id in the tooltip). */
export function ProfileLink({ id, label }: { id: string; label?: string }) {
  return (
    <Tooltip title={id}>
      <Link to={`/profiles/${encodeURIComponent(id)}`} data-testid="profile-link">
        <Typography.Text style={{ color: 'inherit', fontFamily: label ? undefined : 'monospace' }}>
          {label ?? shortId(id)}
        </Typography.Text>
      </Link>
    </Tooltip>
  );
}
