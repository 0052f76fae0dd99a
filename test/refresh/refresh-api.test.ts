import { describeWithMysql } from '../support/mysql';
import { refreshApiContract } from './refresh-api.contract';

refreshApiContract('sqlite');
refreshApiContract('memory');
describeWithMysql('on MariaDB', () => refreshApiContract('mysql'));
